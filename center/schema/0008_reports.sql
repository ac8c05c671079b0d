-- Reports: what the period queries need to stay fast at millions of incidents, and shift reports.

-- every report picks the incidents received in its period
create index incidents_by_received on incidents (received_at);
-- the few event kinds the reports count by time (waits with nobody free, the grid cases' ladder); a
-- partial index, so that the writes of every other event pay nothing for it
create index events_for_reports on events (kind, at)
    where kind in ('incident.pending', 'case.opened', 'case.resolved', 'case.escalated', 'case.overdue');

-- one summary per shift, made once when the shift ends (the unique start keeps two processes from
-- making it twice)
create table shift_reports (
    id           bigint generated always as identity primary key,
    shift_start  timestamptz not null unique,
    shift_end    timestamptz not null check (shift_end > shift_start),
    made_at      timestamptz not null default now(),
    summary      jsonb not null
);
create index shift_reports_by_end on shift_reports (shift_end desc);

-- the end of the shift the next report is due for: the one deadline all processes agree on; a job
-- that finds it passed (also after a restart) makes the reports due and moves it on
create table shift_clock (
    only_row  boolean primary key default true check (only_row),
    next_end  timestamptz not null
);
