-- Fix times are bounded to the center's clock from now on (at most 5 minutes ahead). Fixes stored
-- before that from a phone with a wrong clock would keep every later real fix "older" for good: they
-- are taken out of the last known position, and out of the history.
update units set fix_at = null, lat = null, lon = null where fix_at > now() + interval '5 minutes';
delete from positions where at > now() + interval '5 minutes';
