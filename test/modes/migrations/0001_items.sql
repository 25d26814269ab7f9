-- The schema the modes suite's checked queries are compiled against.
CREATE TABLE q_items (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  qty INTEGER,
  price REAL NOT NULL DEFAULT 0
);
