CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT UNIQUE,
  score REAL,
  active BOOLEAN NOT NULL DEFAULT 1,
  avatar BLOB
);
