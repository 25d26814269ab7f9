-- The README's checked-queries example is compiled against this (test/dune,
-- readme_blocks): keep it as the README shows it.
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, score REAL);
