//! The one reader of SQL text on the Rust side. It reads SQL the way
//! SQLite's tokenizer does, so that nothing inside a string literal, a
//! quoted identifier (`".."`, `` `..` ``, `[..]`) or a comment (`--` to the
//! end of the line, `/* */`; an unterminated one runs to the end) is taken
//! for a keyword, a parameter or the end of a statement. Every question
//! asked of SQL text is answered here, on one tokenizer ([Tokens]), so that
//! the engines (and the OCaml side, through `ffi`) agree on the answers:
//!
//! - leading keywords: [leading_words]; transaction control:
//!   [ends_transaction] (refused inside an atomic batch) and
//!   [controls_transaction] (kept off a replica's local reader);
//! - read-only statements: [is_read_only];
//! - parameters, for remote statements: [parameter_count] (as
//!   `sqlite3_bind_parameter_count` would say) and [bind_names]: named
//!   arguments under their exact names in the SQL, checked as a local
//!   statement checks them, and `?NNN` given by name (`"?2"`) next to named
//!   ones. sqld binds named arguments by name and `?NNN` by position only,
//!   and refuses a request with both kinds, so each `?NNN` becomes a named
//!   parameter, numbered as SQLite numbers parameters (a `?NNN` that shares
//!   its index with a `:name` becomes that name: both are one parameter);
//! - statement ends: [complete] (`sqlite3_complete`) and [split] (a
//!   script's statements, as SQLite splits them).
//!
//! It is not a parser: whether the SQL is valid is for SQLite or the server
//! to say.

use std::borrow::Cow;
use std::ffi::CString;

use crate::error::{Error, Kind};

/// What the tokenizer reports; white space and comments are skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    /// A bare keyword or identifier (not a quoted one).
    Word,
    /// A parameter: `?`, `?NNN`, `:name`, `@name`, `$name`, `#name`.
    Variable,
    Semicolon,
    /// Anything else: a literal, a quoted identifier, a number, an operator.
    Other,
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The tokens of SQL text, each with its byte range, lazily (a caller that
/// wants the first keyword does not scan a long statement). Ranges start
/// and end on character boundaries: every byte of a multi-byte character
/// is an identifier character, as SQLite treats it.
struct Tokens<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a [u8]) -> Tokens<'a> {
        Tokens { s, i: 0 }
    }

    /// From just after an opening quote to just after its closing one
    /// (doubled, it stands for itself, except in `[..]`).
    fn skip_quoted(&self, from: usize, close: u8) -> usize {
        let s = self.s;
        let mut j = from;
        while j < s.len() {
            if s[j] == close {
                if close != b']' && s.get(j + 1) == Some(&close) {
                    j += 2;
                    continue;
                }
                return j + 1;
            }
            j += 1;
        }
        s.len()
    }

    /// The end of a named parameter whose first character is at `i`: as
    /// SQLite's tokenizer, identifier characters, `::` pairs inside, and a
    /// `(...)` suffix (Tcl's forms).
    fn variable_end(&self, mut i: usize) -> usize {
        let s = self.s;
        while i < s.len() {
            if is_id_char(s[i]) {
                i += 1;
            } else if s[i] == b':' && s.get(i + 1) == Some(&b':') {
                i += 2;
            } else if s[i] == b'(' {
                i += 1 + s[i + 1..].iter().take_while(|&&b| !b.is_ascii_whitespace() && b != b')').count();
                if s.get(i) == Some(&b')') {
                    i += 1;
                }
                break;
            } else {
                break;
            }
        }
        i
    }

    fn id_run(&self, i: usize) -> usize {
        i + self.s[i..].iter().take_while(|&&b| is_id_char(b)).count()
    }
}

impl Iterator for Tokens<'_> {
    type Item = (usize, usize, Token);

    fn next(&mut self) -> Option<(usize, usize, Token)> {
        let s = self.s;
        loop {
            let i = self.i;
            let (end, token) = match *s.get(i)? {
                q @ (b'\'' | b'"' | b'`') => (self.skip_quoted(i + 1, q), Token::Other),
                b'[' => (self.skip_quoted(i + 1, b']'), Token::Other),
                b'-' if s.get(i + 1) == Some(&b'-') => {
                    self.i = s[i..].iter().position(|&b| b == b'\n').map_or(s.len(), |k| i + k + 1);
                    continue;
                }
                b'/' if s.get(i + 1) == Some(&b'*') => {
                    self.i = s[i + 2..].windows(2).position(|w| w == b"*/").map_or(s.len(), |k| i + 2 + k + 2);
                    continue;
                }
                b';' => (i + 1, Token::Semicolon),
                b'?' => (i + 1 + s[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count(), Token::Variable),
                b':' | b'@' | b'$' | b'#' if s.get(i + 1).is_some_and(|&b| is_id_char(b)) => {
                    (self.variable_end(i + 1), Token::Variable)
                }
                // a number (`1e5`, `0x1F`): never a keyword
                b if b.is_ascii_digit() => (self.id_run(i), Token::Other),
                b if is_id_char(b) => (self.id_run(i), Token::Word),
                b if b.is_ascii_whitespace() => {
                    self.i += 1;
                    continue;
                }
                _ => (i + 1, Token::Other),
            };
            self.i = end;
            return Some((i, end, token));
        }
    }
}

fn upper(word: &[u8]) -> String {
    String::from_utf8_lossy(word).to_ascii_uppercase()
}

/// The first `n` words of a statement, upper-cased, comments skipped; they
/// stop at the first token that is not a bare word.
pub fn leading_words(sql: &[u8], n: usize) -> Vec<String> {
    Tokens::new(sql)
        .take_while(|t| t.2 == Token::Word)
        .take(n)
        .map(|(a, b, _)| upper(&sql[a..b]))
        .collect()
}

/// Whether a statement begins, commits or rolls back a transaction (not a
/// `ROLLBACK TO` a savepoint): inside an atomic batch it would end the
/// batch's own transaction.
pub fn ends_transaction(sql: &[u8]) -> bool {
    let words = leading_words(sql, 3);
    let w = |i: usize| words.get(i).map(|s| s.as_str()).unwrap_or("");
    match w(0) {
        "BEGIN" | "COMMIT" | "END" => true,
        "ROLLBACK" => !(w(1) == "TO" || (w(1) == "TRANSACTION" && w(2) == "TO")),
        _ => false,
    }
}

/// Whether a statement (behind empty statements and comments) begins or
/// ends a transaction or a savepoint: on a replica those go to the primary
/// (SQLite calls them read-only, but the transaction is the primary's).
pub fn controls_transaction(sql: &[u8]) -> bool {
    match Tokens::new(sql).find(|t| t.2 != Token::Semicolon) {
        Some((a, b, Token::Word)) => {
            matches!(upper(&sql[a..b]).as_str(), "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE")
        }
        _ => false,
    }
}

/// Whether a statement only reads, as the OCaml side decides for a batch in
/// read mode: its first keyword is SELECT, VALUES or WITH, and none of
/// INSERT, UPDATE, DELETE or REPLACE appears as a bare word anywhere in it
/// (so `replace()` the function counts as a write: on the safe side, as
/// `WITH ... INSERT` must be caught without parsing).
pub fn is_read_only(sql: &str) -> bool {
    let s = sql.as_bytes();
    let mut words = Tokens::new(s).filter(|t| t.2 == Token::Word).map(|(a, b, _)| upper(&s[a..b]));
    match Tokens::new(s).next() {
        Some((a, b, Token::Word)) if matches!(upper(&s[a..b]).as_str(), "SELECT" | "VALUES" | "WITH") => {
            !words.any(|w| matches!(w.as_str(), "INSERT" | "UPDATE" | "DELETE" | "REPLACE"))
        }
        _ => false,
    }
}

/// SQL as text, for an engine that takes it as text: valid UTF-8 and
/// without NUL bytes (which would cut it).
pub fn text(sql: &[u8]) -> Result<&str, Error> {
    let text = std::str::from_utf8(sql).map_err(|_| Error::new(Kind::Misuse, "SQL is not valid UTF-8"))?;
    match sql.iter().position(|b| *b == 0) {
        Some(i) => Err(Error::new(Kind::Misuse, format!("SQL contains a NUL byte at offset {i}"))),
        None => Ok(text),
    }
}

/// Whether SQLite's `changes()` takes the rows a statement changed: an
/// INSERT, UPDATE, DELETE or REPLACE does (0 included), any other only if
/// it changed rows. For engines that report rows changed per statement.
pub fn sets_changes(sql: &str, changed: u64) -> bool {
    changed > 0
        || matches!(leading_words(sql.as_bytes(), 1).first().map(String::as_str), Some("INSERT" | "UPDATE" | "DELETE" | "REPLACE"))
}

/// Whether SQL text ends a statement, as `sqlite3_complete` says (it knows
/// that the `;` inside a CREATE TRIGGER's body do not). SQLite reads a C
/// string: a NUL byte is read as a space here rather than as the end.
pub fn complete(sql: &str) -> bool {
    complete_bytes(sql.as_bytes())
}

pub fn complete_bytes(s: &[u8]) -> bool {
    let c = CString::new(s).unwrap_or_else(|_| {
        CString::new(s.iter().map(|&b| if b == 0 { b' ' } else { b }).collect::<Vec<u8>>()).expect("no NUL left")
    });
    // sqlite3_complete does not initialize SQLite (libsql must be first to;
    // see `engine::local`).
    unsafe { libsql::ffi::sqlite3_complete(c.as_ptr()) != 0 }
}

/// The byte ranges of a script's statements, untrimmed, without their final
/// `;`. A `;` ends a statement where [complete] says the text up to it is
/// one; empty statements (only comments, or `;;`) are left out.
fn pieces(s: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut content = false;
    for (_, end, t) in Tokens::new(s) {
        match t {
            Token::Semicolon if !content => start = end,
            Token::Semicolon => {
                if complete_bytes(&s[start..end]) {
                    out.push((start, end - 1));
                    start = end;
                    content = false;
                }
            }
            _ => content = true,
        }
    }
    if content {
        out.push((start, s.len()));
    }
    out
}

/// The statements of a script, as SQLite splits them, each trimmed and
/// without its final `;` (see [pieces]).
pub fn split(sql: &str) -> Vec<&str> {
    pieces(sql.as_bytes()).into_iter().map(|(a, b)| sql[a..b].trim()).collect()
}

/// [split] for text that may not be UTF-8 (from the OCaml side): the same
/// pieces, trimmed of ASCII white space when the text is not UTF-8.
pub fn split_bytes(sql: &[u8]) -> Vec<&[u8]> {
    match std::str::from_utf8(sql) {
        Ok(text) => split(text).into_iter().map(str::as_bytes).collect(),
        Err(_) => pieces(sql).into_iter().map(|(a, b)| sql[a..b].trim_ascii()).collect(),
    }
}

/// A parameter in SQL text.
#[derive(Debug, PartialEq)]
enum Param<'a> {
    Numbered(u32),
    Anonymous,
    Named(&'a str),
}

/// The parameters of `sql`, in order, with their byte ranges.
fn scan(sql: &str) -> Vec<(usize, usize, Param<'_>)> {
    Tokens::new(sql.as_bytes())
        .filter(|t| t.2 == Token::Variable)
        .map(|(a, b, _)| {
            let text = &sql[a..b];
            let p = match text.strip_prefix('?') {
                Some(digits) => digits.parse::<u32>().map_or(Param::Anonymous, Param::Numbered),
                None => Param::Named(text),
            };
            (a, b, p)
        })
        .collect()
}

/// The generated name of `?n` when no `:name` shares its index.
fn generated(n: u32) -> String {
    format!(":turso_p{n}")
}

/// How SQLite numbers the parameters of a statement: `?NNN` is NNN; a new
/// name or a bare `?` is the largest index so far plus one; a name seen
/// before keeps its index.
struct Numbering<'a> {
    largest: u32,
    index_of_name: Vec<(&'a str, u32)>,
    numbered: Vec<u32>,
    anonymous: Option<u32>,
}

fn number<'a>(params: &[(usize, usize, Param<'a>)]) -> Numbering<'a> {
    let mut n = Numbering { largest: 0, index_of_name: Vec::new(), numbered: Vec::new(), anonymous: None };
    for (_, _, p) in params {
        match p {
            Param::Numbered(k) => {
                n.largest = n.largest.max(*k);
                if !n.numbered.contains(k) {
                    n.numbered.push(*k);
                }
            }
            Param::Anonymous => {
                n.largest += 1;
                n.anonymous.get_or_insert(n.largest);
            }
            Param::Named(name) => {
                if !n.index_of_name.iter().any(|(x, _)| x == name) {
                    n.largest += 1;
                    n.index_of_name.push((name, n.largest));
                }
            }
        }
    }
    n
}

/// The number of parameters of a statement, as `sqlite3_bind_parameter_count`
/// says: the largest index.
pub fn parameter_count(sql: &str) -> u32 {
    number(&scan(sql)).largest
}

/// Named arguments for `sql` as a server binds them: each under the exact
/// name it has in the SQL (a bare name finds its `:`, `@` or `$` form, as
/// on a local database), every `?NNN` of the SQL made a named parameter
/// when there are any, and the errors of a local statement: a name the
/// statement lacks, a parameter given twice or not given, a bare `?`
/// (which has no name). The SQL is rewritten only for `?NNN`.
pub fn bind_names<V>(sql: &str, named: Vec<(String, V)>) -> Result<(Cow<'_, str>, Vec<(String, V)>), Error> {
    let misuse = |m: String| Error::new(Kind::Misuse, m);
    let params = scan(sql);
    let Numbering { largest, index_of_name, numbered, anonymous } = number(&params);
    if let Some(i) = anonymous {
        return Err(misuse(format!("positional parameter {i} cannot be given by name")));
    }
    let name_for = |n: u32| -> String {
        match index_of_name.iter().find(|(_, i)| *i == n) {
            Some((name, _)) => name.to_string(),
            None => generated(n),
        }
    };
    let mut args: Vec<(String, V)> = Vec::with_capacity(named.len());
    for (name, v) in named {
        let target = match name.as_bytes().first() {
            Some(b'?') => match name[1..].parse::<u32>() {
                Ok(n) if numbered.contains(&n) => Some(name_for(n)),
                _ => None,
            },
            Some(b':' | b'@' | b'$') => index_of_name.iter().find(|(n, _)| *n == name).map(|(n, _)| n.to_string()),
            _ => [':', '@', '$'].iter().find_map(|p| {
                index_of_name.iter().find(|(n, _)| n.starts_with(*p) && n[1..] == name).map(|(n, _)| n.to_string())
            }),
        };
        let target = target.ok_or_else(|| misuse(format!("statement has no parameter named {name:?}")))?;
        if args.iter().any(|(n, _)| *n == target) {
            return Err(misuse(format!("parameter {name:?} is given more than once")));
        }
        args.push((target, v));
    }
    // an index between them that no parameter has (`?3` with no `?2`)
    if let Some(hole) = (1..=largest).find(|i| !numbered.contains(i) && !index_of_name.iter().any(|(_, j)| j == i)) {
        return Err(misuse(format!("positional parameter {hole} cannot be given by name")));
    }
    for (name, _) in &index_of_name {
        if !args.iter().any(|(a, _)| a == name) {
            return Err(misuse(format!("parameter {name:?} is not given")));
        }
    }
    for n in &numbered {
        if !args.iter().any(|(a, _)| *a == name_for(*n)) {
            return Err(misuse(format!("parameter \"?{n}\" is not given")));
        }
    }
    if numbered.is_empty() {
        return Ok((Cow::Borrowed(sql), args));
    }
    let mut text = String::with_capacity(sql.len() + 16);
    let mut at = 0;
    for (start, end, p) in &params {
        if let Param::Numbered(n) = p {
            text.push_str(&sql[at..*start]);
            text.push_str(&name_for(*n));
            at = *end;
        }
    }
    text.push_str(&sql[at..]);
    Ok((Cow::Owned(text), args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str, named: &[(&str, i32)]) -> Result<Option<(String, Vec<(String, i32)>)>, String> {
        match bind_names(sql, named.iter().map(|(n, v)| (n.to_string(), *v)).collect()) {
            Ok((Cow::Owned(sql), args)) => Ok(Some((sql, args))),
            Ok((Cow::Borrowed(_), _)) => Ok(None),
            Err(e) => Err(e.message),
        }
    }

    #[test]
    fn scan_skips_literals_and_comments() {
        let ps: Vec<_> = scan("SELECT '?1', \"?2\", `?3`, [?4], x'3f', -- ?5\n /* ?6 */ ?7, :a, @b, $c, ?, a$b, #d")
            .into_iter()
            .map(|(_, _, p)| p)
            .collect();
        assert_eq!(ps, vec![Param::Numbered(7), Param::Named(":a"), Param::Named("@b"), Param::Named("$c"), Param::Anonymous, Param::Named("#d")]);
        assert_eq!(scan("SELECT 'it''s ?1'").len(), 0);
        let tcl: Vec<_> = scan("SELECT $a::b, $c(d e), :f").into_iter().map(|(_, _, p)| p).collect();
        assert_eq!(tcl, vec![Param::Named("$a::b"), Param::Named("$c(d"), Param::Named(":f")]);
        assert_eq!(scan("SELECT ?1 -- unterminated").len(), 1);
        assert_eq!(scan("SELECT ?1 /* unterminated").len(), 1);
        assert_eq!(split("SELECT 1; ;; -- c\n SELECT ';' /* ; */ ; SELECT 3 /* open"), vec!["SELECT 1", "-- c\n SELECT ';' /* ; */", "SELECT 3 /* open"]);
        let trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); DELETE FROM v; END";
        assert_eq!(split(&format!("{trigger}; SELECT 2;")), vec![trigger, "SELECT 2"]);
        assert!(split(" -- nothing\n; /* */").is_empty());
        assert_eq!(parameter_count("SELECT ?, ?5, :a, :a, '?9'"), 6);
        assert_eq!(parameter_count("SELECT 1"), 0);
    }

    #[test]
    fn rewrites() {
        assert_eq!(names("SELECT :a, @b", &[("a", 1), ("b", 2)]).unwrap(), None);
        assert!(names("SELECT :a, ?2", &[("a", 1)]).unwrap_err().contains("\"?2\" is not given"));
        assert!(names("SELECT :a, @b", &[("a", 1)]).unwrap_err().contains("\"@b\" is not given"));
        assert!(names("SELECT :a, ?", &[("a", 1)]).unwrap_err().contains("positional parameter 2"));
        let (sql, args) = names("SELECT :a, ?2, '?2'", &[(":a", 1), ("?2", 2)]).unwrap().unwrap();
        // :a is index 1, so ?2 is a parameter of its own
        assert_eq!(sql, "SELECT :a, :turso_p2, '?2'");
        assert_eq!(args, vec![(":a".to_string(), 1), (":turso_p2".to_string(), 2)]);
        // ?1 and :a share index 1: one parameter
        let (sql, _) = names("SELECT ?1, ?2, :a", &[("?1", 1), ("?2", 2), (":a", 3)]).unwrap().unwrap();
        assert_eq!(sql, "SELECT :turso_p1, :turso_p2, :a");
        let (sql, args) = names("SELECT :a, ?1", &[("?1", 1)]).unwrap().unwrap();
        assert_eq!((sql.as_str(), args), ("SELECT :a, :a", vec![(":a".to_string(), 1)]));
        assert!(names("SELECT :a, ?1", &[("?1", 1), (":a", 2)]).unwrap_err().contains("more than once"));
        assert!(names("SELECT :a, ?2", &[(":a", 1), ("?3", 2)]).unwrap_err().contains("no parameter named \"?3\""));
        assert!(names("SELECT ?1, ?2", &[("?1", 1)]).unwrap_err().contains("\"?2\" is not given"));
        assert!(names("SELECT :a, ?3", &[(":a", 1), ("?3", 3)]).unwrap_err().contains("positional parameter 2"));
    }

    fn words(sql: &str) -> Vec<(String, Token)> {
        Tokens::new(sql.as_bytes()).map(|(a, b, t)| (sql[a..b].to_string(), t)).collect()
    }

    #[test]
    fn tokenizer() {
        use Token::*;
        let w = |s: &str, t| (s.to_string(), t);
        // '' inside a string, "" inside an identifier, ]] ends [..] at once
        assert_eq!(
            words("SELECT 'it''s', \"a\"\"b\", `c``d`, [e]] f;"),
            vec![w("SELECT", Word), w("'it''s'", Other), w(",", Other), w("\"a\"\"b\"", Other), w(",", Other),
                 w("`c``d`", Other), w(",", Other), w("[e]", Other), w("]", Other), w("f", Word), w(";", Semicolon)]
        );
        assert_eq!(words("a -- b ; c\nd /* e ; */ f"), vec![w("a", Word), w("d", Word), w("f", Word)]);
        // unterminated comments, strings and identifiers run to the end
        assert_eq!(words("a -- b"), vec![w("a", Word)]);
        assert_eq!(words("a /* b ; c"), vec![w("a", Word)]);
        assert_eq!(words("a 'b ; c"), vec![w("a", Word), w("'b ; c", Other)]);
        assert_eq!(words("a [b ; c"), vec![w("a", Word), w("[b ; c", Other)]);
        assert_eq!(words("1e5 x1 _y é $z"), vec![w("1e5", Other), w("x1", Word), w("_y", Word), w("é", Word), w("$z", Variable)]);
        assert_eq!(
            words("? ?12 :a @b $c::d $e(f) #g : x"),
            vec![w("?", Variable), w("?12", Variable), w(":a", Variable), w("@b", Variable), w("$c::d", Variable),
                 w("$e(f)", Variable), w("#g", Variable), w(":", Other), w("x", Word)]
        );
    }

    #[test]
    fn parameters() {
        fn ps(sql: &str) -> Vec<Param<'_>> {
            scan(sql).into_iter().map(|(_, _, p)| p).collect()
        }
        assert_eq!(ps("SELECT ?, ?3, ?"), vec![Param::Anonymous, Param::Numbered(3), Param::Anonymous]);
        assert_eq!(ps("SELECT :a, @a, $a::b, $c(x), $d(y"), vec![
            Param::Named(":a"), Param::Named("@a"), Param::Named("$a::b"), Param::Named("$c(x)"), Param::Named("$d(y")]);
        assert_eq!(ps("SELECT ':a', \":b\", [?], `?1` -- ?\n /* :c */"), vec![]);
        assert_eq!(ps("SELECT ?1 /* ?2"), vec![Param::Numbered(1)]);
        // SQLite: ? after ?3 is 4; a name seen before keeps its index
        assert_eq!(parameter_count("SELECT ?3, ?, :a, :a"), 5);
        assert_eq!(parameter_count("SELECT ?"), 1);
        assert_eq!(parameter_count("SELECT '?', \"?\" -- ?"), 0);
    }

    #[test]
    fn leading_keywords() {
        assert_eq!(leading_words(b"/* a */ -- b\n  select x, y", 3), vec!["SELECT", "X"]);
        assert_eq!(leading_words(b"begin;commit", 3), vec!["BEGIN"]);
        assert_eq!(leading_words(b"/* unterminated begin", 1), Vec::<String>::new());
        assert_eq!(leading_words(b"'BEGIN'", 1), Vec::<String>::new());
        for sql in ["BEGIN", "begin immediate", " COMMIT", "END", "end transaction", "ROLLBACK", "rollback transaction",
                    "/* c */ ROLLBACK", "-- c\nCOMMIT;"] {
            assert!(ends_transaction(sql.as_bytes()), "{sql}");
        }
        for sql in ["ROLLBACK TO s", "rollback transaction to s", "SAVEPOINT s", "RELEASE s", "SELECT 'BEGIN'",
                    "\"BEGIN\"", "BEGINX", "; BEGIN", ""] {
            assert!(!ends_transaction(sql.as_bytes()), "{sql}");
        }
        for sql in ["BEGIN", "SAVEPOINT s", "release s", "ROLLBACK TO s", "; -- c\n ;COMMIT", "/* */ end"] {
            assert!(controls_transaction(sql.as_bytes()), "{sql}");
        }
        for sql in ["SELECT 1", "'BEGIN'", "-- BEGIN", ""] {
            assert!(!controls_transaction(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn read_only() {
        for sql in ["SELECT 1", "select * from t", "VALUES (1), (2)", "WITH x AS (SELECT 1) SELECT * FROM x",
                    "SELECT 'INSERT'", "SELECT \"insert\" FROM t", "SELECT [delete] FROM t", "SELECT `update` FROM t",
                    "SELECT 1 -- insert", "SELECT 1 /* delete */", "/* c */ SELECT 1", "-- c\nselect 1",
                    "SELECT :insert, @update, $delete", "SELECT insert_count FROM t"] {
            assert!(is_read_only(sql), "{sql}");
        }
        for sql in ["INSERT INTO t VALUES (1)", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
                    "with x as (select 1) delete from t", "UPDATE t SET a = 1", "REPLACE INTO t VALUES (1)",
                    "SELECT replace(a, 'b', 'c') FROM t", "SELECT 1; DELETE FROM t", "PRAGMA table_info(t)",
                    "EXPLAIN SELECT 1", "'SELECT'", "(SELECT 1)", "/* SELECT 1", "", "-- SELECT"] {
            assert!(!is_read_only(sql), "{sql}");
        }
    }

    #[test]
    fn statement_ends() {
        assert!(complete("SELECT 1;"));
        assert!(complete("SELECT 1; -- done"));
        assert!(!complete("SELECT 1"));
        assert!(!complete("SELECT ';'"));
        assert!(!complete("SELECT 1 /* ; */"));
        assert!(!complete("CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u;"));
        assert!(complete("CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END;"));
        assert!(complete("SELECT 'a\0b';"));
        let trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 'END;'; -- END;\n DELETE FROM u; END";
        assert_eq!(split(&format!("{trigger};\nSELECT ';' /* ; */; SELECT 3")), vec![trigger, "SELECT ';' /* ; */", "SELECT 3"]);
        assert_eq!(split("SELECT 1 -- open"), vec!["SELECT 1 -- open"]);
        assert_eq!(split("  ; ;\n"), Vec::<&str>::new());
        assert_eq!(split_bytes(b"SELECT x'ff';\tSELECT '\xff' "), vec![&b"SELECT x'ff'"[..], &b"SELECT '\xff'"[..]]);
    }
}
