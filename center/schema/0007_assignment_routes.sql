-- The road route a unit was offered (seconds, metres by road, the line to draw) when the center ranks
-- by road; null when it estimated by the straight line.
alter table assignments add column if not exists route jsonb;
