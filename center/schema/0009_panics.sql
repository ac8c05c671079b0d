-- Panics: an officer's emergency button. Each one opened an incident (through the intake's own
-- statement, so it is queued and reconciled like any call) and stays open until it is cancelled or its
-- incident is closed; the partial unique index keeps one open panic per unit, whoever presses twice.
create table panics (
    id               bigint generated always as identity primary key,
    unit_id          bigint not null references units (id),
    incident_id      bigint not null references incidents (id),
    alert_id         bigint not null references alerts (id),
    via              text not null,  -- http or socket
    lat              double precision not null,
    lon              double precision not null,
    raised_at        timestamptz not null default now(),
    raised_by        text not null,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    ended_at         timestamptz,
    ended_by         text,
    end_reason       text check (end_reason in ('cancelled', 'incident_closed'))
);
create unique index panics_one_open_per_unit on panics (unit_id) where ended_at is null;
create index panics_by_incident on panics (incident_id);
