-- Accounts of people (and of systems that log in): a role, for a unit account its unit, for people who
-- work grid cases their seat on the escalation ladder; an argon2 password hash; the failed-login count
-- and lock that stop password guessing. Every change is also an event (kind user.*) with its actor.

create table users (
    id             bigint generated always as identity primary key,
    -- kept lower-case; the login lower-cases what is typed
    username       text not null unique check (username ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    display_name   text,
    role           text not null
                   check (role in ('admin', 'dispatcher', 'call_taker', 'unit', 'grid_worker', 'display',
                                   'integration')),
    unit_id        bigint references units (id),
    level          text check (level in ('community', 'town', 'county')),
    area           text,
    password_hash  text not null,
    failed_logins  integer not null default 0 check (failed_logins >= 0),
    locked_until   timestamptz,
    last_login_at  timestamptz,
    created_at     timestamptz not null default now(),
    disabled_at    timestamptz,
    -- a unit account names its unit, and only a unit account does
    check ((role = 'unit') = (unit_id is not null)),
    check (area is null or level is not null)
);
