-- The schema bench.exe checked compiles its queries against.
CREATE TABLE people (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  score REAL NOT NULL,
  note TEXT
);
