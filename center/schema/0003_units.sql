-- Units: ordered status writes to the live index, tracker-app tokens, and position retention.

-- bumped by every status change; the live index skips a write older than the last one it applied
alter table units add column status_version bigint not null default 0;
-- a phone tracker app (OsmAnd/Traccar protocol) authenticates with this token as its device id;
-- only its SHA-256 is kept
alter table units add column tracker_token_sha256 text unique;
-- retention deletes old history by time; BRIN suits a table that is appended to in time order
create index positions_by_time on positions using brin (at);
