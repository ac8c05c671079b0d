-- The intake's one statement, beside the code that calls it (alerts/intake.py). Applied with
-- "create or replace" at every start, after the numbered migrations, so that changing a rule here is an
-- edit of this file. A change of the arguments or of the out columns cannot be replaced in place: it
-- needs a numbered migration that drops the old function first.

-- Accept one alert: insert it under its idempotency key, link it to a related open incident or open a
-- new one, and record the event; all in the caller's single statement, so nothing is half-written. A
-- key seen before returns the first answer (o_replayed) with the digest of the request that made it.
create or replace function accept_alert(
    p_channel text, p_category text, p_priority smallint, p_lat double precision, p_lon double precision,
    p_orig_lat double precision, p_orig_lon double precision, p_coord_system text, p_address text,
    p_description text, p_caller_phone text, p_caller_name text, p_source_call_id text, p_key text,
    p_digest text, p_actor text, p_zone text, p_related text[], p_window_s double precision,
    p_radius_m double precision, p_event jsonb,
    out o_alert_id bigint, out o_incident_id bigint, out o_received_at timestamptz, out o_linked boolean,
    out o_replayed boolean, out o_digest text, out o_event_id bigint, out o_event_at timestamptz,
    out o_event_kind text
) language plpgsql as $$
begin
    insert into alerts (channel, category, priority, lat, lon, orig_lat, orig_lon, coord_system, address,
                        description, caller_phone, caller_name, source_call_id, idempotency_key,
                        request_digest, reported_by, zone)
    values (p_channel, p_category, p_priority, p_lat, p_lon, p_orig_lat, p_orig_lon, p_coord_system,
            p_address, p_description, p_caller_phone, p_caller_name, p_source_call_id, p_key, p_digest,
            p_actor, p_zone)
    on conflict (idempotency_key) do nothing
    returning id, received_at into o_alert_id, o_received_at;

    if o_alert_id is null then
        select a.id, a.incident_id, a.received_at, a.request_digest,
               a.id <> (select min(b.id) from alerts b where b.incident_id = a.incident_id)
          into o_alert_id, o_incident_id, o_received_at, o_digest, o_linked
          from alerts a where a.idempotency_key = p_key;
        o_replayed := true;
        return;
    end if;
    o_replayed := false;
    o_digest := p_digest;

    -- a bounding box first, so that the index on open incidents does the work
    select i.id into o_incident_id from incidents i
     where i.closed_at is null and i.category = any(p_related)
       and i.received_at >= now() - make_interval(secs => p_window_s)
       and i.lat between p_lat - p_radius_m / 111320.0 and p_lat + p_radius_m / 111320.0
       and i.lon between p_lon - p_radius_m / (111320.0 * cos(radians(p_lat)))
                     and p_lon + p_radius_m / (111320.0 * cos(radians(p_lat)))
       and 2 * 6371008.8 * asin(sqrt(power(sin(radians(i.lat - p_lat) / 2), 2)
           + cos(radians(p_lat)) * cos(radians(i.lat)) * power(sin(radians(i.lon - p_lon) / 2), 2)))
           <= p_radius_m
     order by i.priority, i.received_at
     limit 1;
    o_linked := o_incident_id is not null;

    if o_linked then
        o_event_kind := 'alert.linked';
    else
        insert into incidents (category, priority, status, lat, lon, address, zone, description, received_at)
        values (p_category, p_priority, 'received', p_lat, p_lon, p_address, p_zone, p_description,
                o_received_at)
        returning id into o_incident_id;
        o_event_kind := 'incident.created';
        p_event := p_event || jsonb_build_object('status', 'received');
    end if;
    update alerts set incident_id = o_incident_id where id = o_alert_id;

    insert into events (kind, actor, incident_id, alert_id, data)
    values (o_event_kind, p_actor, o_incident_id, o_alert_id, p_event)
    returning id, at into o_event_id, o_event_at;
end $$;
