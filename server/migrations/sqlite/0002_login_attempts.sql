-- Login attempts of the last minute (the failed-login limit), shared by every
-- process that opens this file. A row is an attempt that failed or is being
-- checked; a successful one is deleted.
CREATE TABLE login_attempts (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_attempts_by_name ON login_attempts (name, at);
CREATE INDEX login_attempts_by_time ON login_attempts (at);
