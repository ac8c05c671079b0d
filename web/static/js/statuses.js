// The statuses of units, incidents and assignments and the groups the pages sort them into, as the center
// defines them (units/status.py, alerts/incidents.py, dispatch/assignments.py): served in the page's
// config by web/pages.py, never copied here. Their Chinese and English words are in labels.js.

import { config } from "./session.js";

const S = config().statuses || {};

export const UNIT_STATUSES = S.unit || [];
export const INCIDENT_STATUSES = S.incident || [];
export const ASSIGNMENT_STATUSES = S.assignment || [];
// unit status -> "available", "committed" or "unavailable"
export const AVAILABILITY = S.unit_availability || {};
export const COMMITTED = new Set(Object.keys(AVAILABILITY).filter((s) => AVAILABILITY[s] === "committed"));
export const SELF_REPORTABLE = new Set(S.unit_self_reportable || []);
export const OPEN = new Set(S.incident_open || []);
// waiting for a unit: received, awaiting confirmation, pending
export const UNSERVED = new Set(S.incident_unserved || []);
export const ACTIVE = new Set(S.assignment_active || []);
