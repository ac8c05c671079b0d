-- Grid cases: non-emergency grid reports worked to resolution on the escalation ladder, with
-- working-day deadlines kept here (the scheduler only wakes the check) and supervision records.

create table grid_cases (
    id                bigint generated always as identity primary key,
    alert_id          bigint not null unique references alerts (id),
    incident_id       bigint not null references incidents (id),
    category          text not null,
    status            text not null,
    level             text not null check (level in ('community', 'town', 'county')),
    town              text not null,
    community         text not null,
    grid_cell         text,
    reported_by       text not null,
    assignee          text,
    opened_at         timestamptz not null,
    level_started_at  timestamptz not null,
    deadline          timestamptz,  -- none at the last level
    reminded_at       timestamptz,
    warned_at         timestamptz,
    overdue_at        timestamptz,
    resolution        text,
    return_reason     text,
    closed_at         timestamptz
);
-- the deadline check's work list, and the queues per level and town
create index grid_cases_running on grid_cases (deadline) where closed_at is null;
create index grid_cases_queue on grid_cases (level, town, deadline) where closed_at is null;

create table case_supervisions (
    id            bigint generated always as identity primary key,
    case_id       bigint not null references grid_cases (id),
    by            text not null,
    note          text not null,
    old_deadline  timestamptz,
    new_deadline  timestamptz not null,
    at            timestamptz not null
);
create index case_supervisions_by_case on case_supervisions (case_id);
