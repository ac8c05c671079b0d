-- The system of record: units, incidents, alerts, assignments, the event log and position history.

create table units (
    id                bigint generated always as identity primary key,
    callsign          text not null unique,
    kind              text not null,
    agency            text not null,
    tier              smallint not null check (tier between 1 and 3),
    capabilities      text[] not null default '{}',
    home_zone         text,
    crew              smallint not null default 1 check (crew >= 0),
    status            text not null default 'off_duty',
    status_changed_at timestamptz not null default now(),
    lat               double precision check (lat between -90 and 90),
    lon               double precision check (lon between -180 and 180),
    fix_at            timestamptz,
    fix_accuracy_m    real,
    fix_speed_mps     real,
    fix_heading       real,
    fix_suspect       boolean not null default false,
    retired_at        timestamptz,
    created_at        timestamptz not null default now()
);

create table incidents (
    id               bigint generated always as identity primary key,
    category         text not null,
    priority         smallint not null check (priority between 1 and 4),
    status           text not null,
    lat              double precision not null check (lat between -90 and 90),
    lon              double precision not null check (lon between -180 and 180),
    address          text,
    zone             text,
    description      text,
    shortfall        jsonb,
    received_at      timestamptz not null,
    created_at       timestamptz not null default now(),
    dispatched_at    timestamptz,
    acknowledged_at  timestamptz,
    en_route_at      timestamptz,
    on_scene_at      timestamptz,
    cleared_at       timestamptz,
    closed_at        timestamptz
);
create index incidents_open on incidents (priority, received_at) where closed_at is null;

create table alerts (
    id               bigint generated always as identity primary key,
    incident_id      bigint references incidents (id),
    channel          text not null,
    category         text not null,
    priority         smallint not null check (priority between 1 and 4),
    lat              double precision not null,
    lon              double precision not null,
    orig_lat         double precision not null,
    orig_lon         double precision not null,
    coord_system     text not null default 'wgs84',
    address          text,
    description      text,
    caller_phone     text,
    caller_name      text,
    source_call_id   text,
    idempotency_key  text unique,
    request_digest   text,
    reported_by      text not null,
    received_at      timestamptz not null default now(),
    handled_at       timestamptz
);
-- the reconciler's work list: accepted but not yet handled by a dispatcher
create index alerts_unhandled on alerts (received_at) where handled_at is null;

create table assignments (
    id               bigint generated always as identity primary key,
    incident_id      bigint not null references incidents (id),
    unit_id          bigint not null references units (id),
    status           text not null,
    offered_at       timestamptz not null default now(),
    offer_deadline   timestamptz,
    accepted_at      timestamptz,
    en_route_at      timestamptz,
    on_scene_at      timestamptz,
    cleared_at       timestamptz,
    ended_at         timestamptz,
    end_reason       text,
    travel_s         real,
    distance_m       real,
    reasons          text[] not null default '{}',
    offered_by       text not null
);
-- A unit is never on two active assignments: the database says so, not only the code.
create unique index assignments_one_active_per_unit on assignments (unit_id)
    where status in ('offered', 'accepted', 'en_route', 'on_scene');
create index assignments_by_incident on assignments (incident_id);
create index assignments_offer_deadline on assignments (offer_deadline) where status = 'offered';

create table events (
    id             bigint generated always as identity primary key,
    at             timestamptz not null default clock_timestamp(),
    kind           text not null,
    actor          text not null,
    incident_id    bigint,
    unit_id        bigint,
    assignment_id  bigint,
    alert_id       bigint,
    data           jsonb not null default '{}'
);
create index events_by_incident on events (incident_id, id) where incident_id is not null;
create index events_by_unit on events (unit_id, id) where unit_id is not null;

-- the audit log is append-only
create function events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'events are append-only';
end $$;
create trigger events_no_change before update or delete on events
    for each row execute function events_append_only();

create table positions (
    unit_id      bigint not null,
    at           timestamptz not null,
    lat          double precision not null,
    lon          double precision not null,
    accuracy_m   real,
    speed_mps    real,
    heading      real,
    suspect      boolean not null default false,
    received_at  timestamptz not null default now()
);
create index positions_by_unit_time on positions (unit_id, at);
