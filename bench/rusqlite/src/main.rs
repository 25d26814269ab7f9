//! Baseline for bench/ (`bench.exe all --rusqlite PATH`): the local
//! workloads of `bench/bench.ml` through rusqlite, plain SQLite bundled
//! (WAL, synchronous=NORMAL, as the other engines). Prints `metric value`
//! lines. Usage: rusqlite_bench DIR

use rusqlite::{params, types::Value, types::ValueRef, Connection};
use std::time::Instant;

const N_LOOKUP: i64 = 100_000;
const N_INSERT: i64 = 100_000;
const N_SCAN: i64 = 1_000_000;
const BATCH_ROWS: i64 = 1_000;
const BATCH_REPEATS: usize = 30;

fn text20(i: i64) -> String {
    format!("{:020}", i)
}

fn blob16(i: i64) -> Vec<u8> {
    (0..16).map(|k| ((i + k) & 0xff) as u8).collect()
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: rusqlite_bench DIR");
    let mut conn = Connection::open(format!("{dir}/rusqlite.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();

    // 1. point lookups through a prepared statement
    conn.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)", []).unwrap();
    {
        let tx = conn.transaction().unwrap();
        {
            let mut ins = tx.prepare("INSERT INTO kv VALUES (?, ?)").unwrap();
            for i in 1..=N_LOOKUP {
                ins.execute(params![i, text20(i)]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    {
        let mut sel = conn.prepare("SELECT v FROM kv WHERE id = ?").unwrap();
        let t = Instant::now();
        let mut found = 0;
        for i in 0..N_LOOKUP {
            let id = (i * 7919) % N_LOOKUP + 1;
            let mut rows = sel.query(params![id]).unwrap();
            if let Some(row) = rows.next().unwrap() {
                let v: String = row.get(0).unwrap();
                if !v.is_empty() {
                    found += 1;
                }
            }
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(found, N_LOOKUP);
        println!("lookups_per_s {}", N_LOOKUP as f64 / dt);
    }

    // 2. inserts in one transaction through a prepared statement
    conn.execute("CREATE TABLE ins (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)", []).unwrap();
    let t = Instant::now();
    {
        let tx = conn.transaction().unwrap();
        {
            let mut ins = tx.prepare("INSERT INTO ins VALUES (?, ?, ?)").unwrap();
            for i in 0..N_INSERT {
                ins.execute(params![i, i * 3, text20(i)]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    println!("inserts_per_s {}", N_INSERT as f64 / t.elapsed().as_secs_f64());

    // 3. full scan of 1M rows (integer, real, text 20, blob 16); each value
    // read as the other engines read it (text and blob bytes borrowed, not
    // copied: the most favourable case for this baseline)
    conn.execute("CREATE TABLE scan (i INTEGER, r REAL, t TEXT, b BLOB)", []).unwrap();
    {
        let tx = conn.transaction().unwrap();
        {
            let mut ins = tx.prepare("INSERT INTO scan VALUES (?, ?, ?, ?)").unwrap();
            for i in 0..N_SCAN {
                ins.execute(params![i, i as f64 * 0.5, text20(i), blob16(i)]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    {
        let mut st = conn.prepare("SELECT i, r, t, b FROM scan").unwrap();
        let t = Instant::now();
        let mut rows = st.query([]).unwrap();
        let (mut n, mut bytes, mut sum) = (0i64, 0usize, 0i64);
        while let Some(row) = rows.next().unwrap() {
            for c in 0..4 {
                match row.get_ref(c).unwrap() {
                    ValueRef::Text(s) | ValueRef::Blob(s) => bytes += s.len(),
                    ValueRef::Integer(i) => sum += i,
                    _ => {}
                }
            }
            n += 1;
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(n, N_SCAN);
        assert_eq!(bytes as i64, N_SCAN * 36);
        assert_eq!(sum, N_SCAN * (N_SCAN - 1) / 2);
        println!("scan_rows_per_s {}", N_SCAN as f64 / dt);
        drop(rows);

        // the same, each row's values owned (text as String, blob as Vec):
        // what turso hands its caller, an OCaml value per column
        let t = Instant::now();
        let mut rows = st.query([]).unwrap();
        let (mut n, mut bytes) = (0i64, 0usize);
        while let Some(row) = rows.next().unwrap() {
            let vals: Vec<Value> = (0..4).map(|c| row.get::<_, Value>(c).unwrap()).collect();
            for v in &vals {
                match v {
                    Value::Text(s) => bytes += s.len(),
                    Value::Blob(b) => bytes += b.len(),
                    _ => {}
                }
            }
            n += 1;
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(n, N_SCAN);
        assert_eq!(bytes as i64, N_SCAN * 36);
        println!("scan_owned_rows_per_s {}", N_SCAN as f64 / dt);
    }

    // 4. one 1,000-row batch insert (median of repeats)
    conn.execute("CREATE TABLE batch (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)", []).unwrap();
    let mut times = Vec::new();
    let mut next_id = 0i64;
    for _ in 0..BATCH_REPEATS {
        let t = Instant::now();
        let tx = conn.transaction().unwrap();
        {
            let mut ins = tx.prepare_cached("INSERT INTO batch VALUES (?, ?, ?)").unwrap();
            for _ in 0..BATCH_ROWS {
                ins.execute(params![next_id, next_id * 3, text20(next_id)]).unwrap();
                next_id += 1;
            }
        }
        tx.commit().unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("batch_1000_ms {}", times[times.len() / 2] * 1000.0);
}
