-- Intake in one round trip, attachments of grid reports, and merged incidents.

-- accept_alert() is defined in alerts/intake.sql, applied at every start after these migrations.

alter table alerts add column zone text;

-- photos and short videos of grid reports; the bytes live in files named by their checksum
create table attachments (
    id            bigint generated always as identity primary key,
    alert_id      bigint not null references alerts (id),
    sha256        text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    content_type  text not null,
    size_bytes    bigint not null check (size_bytes > 0),
    filename      text,
    uploaded_by   text not null,
    uploaded_at   timestamptz not null default now()
);
create index attachments_by_alert on attachments (alert_id);

-- an incident merged into another keeps its row (and timeline) and points at the one that goes on
alter table incidents add column merged_into bigint references incidents (id);
alter table incidents add column close_reason text;
