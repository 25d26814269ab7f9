CREATE TABLE email_schedules (
  id       INTEGER PRIMARY KEY,
  run_id   TEXT NOT NULL,
  email    TEXT NOT NULL,
  send_at  REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  payload  TEXT,
  sent     BOOLEAN NOT NULL DEFAULT 0,
  UNIQUE (run_id, email)
);
CREATE INDEX email_schedules_due ON email_schedules (run_id, sent, send_at);
