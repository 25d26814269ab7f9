//! SQL read the way SQLite's tokenizer reads it (string literals, quoted
//! identifiers and comments skipped), for remote statements:
//!
//! - [bind_names]: named arguments under their exact names in the SQL,
//!   checked as a local statement checks them, and `?NNN` given by name
//!   (`"?2"`) next to named ones. sqld binds named arguments by name and
//!   `?NNN` by position only, and refuses a request with both kinds, so
//!   each `?NNN` becomes a named parameter, numbered as SQLite numbers
//!   parameters (a `?NNN` that shares its index with a `:name` becomes that
//!   name: both are one parameter).
//! - [parameter_count]: as `sqlite3_bind_parameter_count` would say.
//! - [split]: a script's statements, as SQLite splits them.

use std::borrow::Cow;

use crate::error::{Error, Kind};

/// A parameter in SQL text: its byte range and what it is.
#[derive(Debug, PartialEq)]
enum Param<'a> {
    Numbered(u32),
    Anonymous,
    Named(&'a str),
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// What the scan reports: parameters, statement separators, and
/// anything else that is not a comment or white space.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Param(Param<'a>),
    Semicolon,
    Other,
}

/// The tokens of `sql` that matter here, with their byte ranges.
fn tokens(sql: &str) -> Vec<(usize, usize, Token<'_>)> {
    let s = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_quoted = |i: usize, close: u8| -> usize {
        // from just after the opening quote to just after the closing one
        let mut j = i;
        while j < s.len() {
            if s[j] == close {
                if close != b']' && j + 1 < s.len() && s[j + 1] == close {
                    j += 2;
                    continue;
                }
                return j + 1;
            }
            j += 1;
        }
        s.len()
    };
    while i < s.len() {
        let start = i;
        let token = match s[i] {
            b'\'' | b'"' | b'`' => {
                i = skip_quoted(i + 1, s[i]);
                Token::Other
            }
            b'[' => {
                i = skip_quoted(i + 1, b']');
                Token::Other
            }
            b'-' if s.get(i + 1) == Some(&b'-') => {
                i = s[i..].iter().position(|&b| b == b'\n').map_or(s.len(), |k| i + k + 1);
                continue;
            }
            b'/' if s.get(i + 1) == Some(&b'*') => {
                i = s[i + 2..].windows(2).position(|w| w == b"*/").map_or(s.len(), |k| i + 2 + k + 2);
                continue;
            }
            b';' => {
                i += 1;
                Token::Semicolon
            }
            b'?' => {
                i += 1 + s[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                Token::Param(match sql[start + 1..i].parse::<u32>() {
                    Ok(n) => Param::Numbered(n),
                    Err(_) => Param::Anonymous,
                })
            }
            b':' | b'@' | b'$' | b'#' if s.get(i + 1).is_some_and(|&b| is_id_char(b)) => {
                // as SQLite's tokenizer: identifier characters, `::` pairs
                // inside, and a `(...)` suffix (Tcl's forms)
                i += 1;
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
                Token::Param(Param::Named(&sql[start..i]))
            }
            b if is_id_char(b) => {
                i += s[i..].iter().take_while(|&&b| is_id_char(b)).count();
                Token::Other
            }
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                Token::Other
            }
        };
        out.push((start, i, token));
    }
    out
}

/// The parameters of `sql`, in order, with their byte ranges.
fn scan(sql: &str) -> Vec<(usize, usize, Param<'_>)> {
    tokens(sql)
        .into_iter()
        .filter_map(|(a, b, t)| match t {
            Token::Param(p) => Some((a, b, p)),
            _ => None,
        })
        .collect()
}

/// The statements of a script, each without its final `;`; empty ones
/// (only comments, or `;;`) are left out. A `;` ends a statement where
/// SQLite's `sqlite3_complete` says the text before it is one (so the
/// `;` inside a CREATE TRIGGER's body do not).
pub fn split(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut content = false;
    for (_, end, t) in tokens(sql) {
        match t {
            Token::Semicolon if !content => start = end,
            Token::Semicolon => {
                let piece = &sql[start..end];
                let complete = std::ffi::CString::new(piece)
                    .map(|c| unsafe { libsql::ffi::sqlite3_complete(c.as_ptr()) } != 0)
                    .unwrap_or(true);
                if complete {
                    out.push(piece[..piece.len() - 1].trim());
                    start = end;
                    content = false;
                }
            }
            _ => content = true,
        }
    }
    if content {
        out.push(sql[start..].trim());
    }
    out
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
}
