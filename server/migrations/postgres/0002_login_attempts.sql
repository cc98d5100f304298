-- Login attempts of the last minute (the failed-login limit), shared by every
-- instance. A row is an attempt that failed or is being checked; a successful
-- one is deleted.
CREATE TABLE login_attempts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX login_attempts_by_name ON login_attempts (name, at);
CREATE INDEX login_attempts_by_time ON login_attempts (at);
