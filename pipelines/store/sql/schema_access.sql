-- Accounts and the audit trail (pipelines.access).

-- One row per account. role: clerk 乡镇填报员 | county 区县审核员 | city 市级管理员 | admin 系统管理员;
-- unit: the 12-digit code of the unit it belongs to (a township, a county, a city or province; none for
-- an admin of every unit). password_hash: argon2id (argon2-cffi), never the password.
CREATE TABLE IF NOT EXISTS users (
    name            VARCHAR PRIMARY KEY,
    display_name    VARCHAR NOT NULL,
    role            VARCHAR NOT NULL,
    unit            VARCHAR,
    email           VARCHAR,
    password_hash   VARCHAR NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL,
    created_by      VARCHAR,
    last_login      TIMESTAMP,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMP
);

-- Append-only: every sign-in, upload attempt, review step, record, account change and registry load.
CREATE SEQUENCE IF NOT EXISTS audit_seq START 1;
CREATE TABLE IF NOT EXISTS audit_log (
    id        BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    logged_at TIMESTAMP NOT NULL,
    user_name VARCHAR,
    role      VARCHAR,
    action    VARCHAR NOT NULL,
    object    VARCHAR,
    unit      VARCHAR,              -- the unit the object belongs to (for a county's view of its log)
    outcome   VARCHAR NOT NULL,     -- ok | refused | rejected | unchanged | failed
    details   VARCHAR,              -- JSON
    client    VARCHAR
);

-- Dashboard sessions: a browser keeps a random token in a session cookie; only its SHA-256 is stored.
-- A session ends on 退出登录, after settings.accounts.idle_minutes without activity, or when the account
-- is disabled.
CREATE TABLE IF NOT EXISTS user_sessions (
    token_hash VARCHAR PRIMARY KEY,
    user_name  VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen  TIMESTAMP NOT NULL,
    ended_at   TIMESTAMP,
    client     VARCHAR
);
