CREATE TABLE posts (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  title TEXT NOT NULL,
  body TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX posts_by_user ON posts (user_id);
