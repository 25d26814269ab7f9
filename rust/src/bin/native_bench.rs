//! Baseline for bench/: the same workloads as `bench/bench.ml`, written
//! directly in Rust against the libsql crate (local file, WAL,
//! synchronous=NORMAL). Prints `metric value` lines.
//!
//! Usage: native_bench DIR

use std::time::Instant;

use libsql::{params, Builder, Connection, Value};

const N_LOOKUP: i64 = 100_000;
const N_INSERT: i64 = 100_000;
const N_SCAN: i64 = 1_000_000;
const BATCH_ROWS: i64 = 1_000;
const BATCH_REPEATS: usize = 30;

async fn open(path: &str) -> Connection {
    let db = Builder::new_local(path).build().await.unwrap();
    let conn = db.connect().unwrap();
    // keep the database alive for the connection's life
    std::mem::forget(db);
    let mut r = conn.query("PRAGMA journal_mode=WAL", ()).await.unwrap();
    while r.next().await.unwrap().is_some() {}
    conn.execute("PRAGMA synchronous=NORMAL", ()).await.unwrap();
    conn
}

fn text20(i: i64) -> String {
    format!("{:020}", i)
}

fn blob16(i: i64) -> Vec<u8> {
    (0..16).map(|k| ((i + k) & 0xff) as u8).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::args().nth(1).expect("usage: native_bench DIR");
    let conn = open(&format!("{dir}/native.db")).await;

    // 1. point lookups through a prepared statement
    conn.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)", ()).await.unwrap();
    let tx = conn.transaction().await.unwrap();
    {
        let ins = tx.prepare("INSERT INTO kv VALUES (?, ?)").await.unwrap();
        for i in 1..=N_LOOKUP {
            ins.execute(params![i, text20(i)]).await.unwrap();
            ins.reset();
        }
    }
    tx.commit().await.unwrap();
    let sel = conn.prepare("SELECT v FROM kv WHERE id = ?").await.unwrap();
    let t = Instant::now();
    let mut found = 0;
    for i in 0..N_LOOKUP {
        let id = (i * 7919) % N_LOOKUP + 1;
        let mut rows = sel.query(params![id]).await.unwrap();
        if let Some(row) = rows.next().await.unwrap() {
            if let Value::Text(_) = row.get_value(0).unwrap() {
                found += 1;
            }
        }
        sel.reset();
    }
    let dt = t.elapsed().as_secs_f64();
    assert_eq!(found, N_LOOKUP);
    println!("lookups_per_s {}", N_LOOKUP as f64 / dt);

    // 2. inserts in one transaction through a prepared statement
    conn.execute("CREATE TABLE ins (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)", ()).await.unwrap();
    let t = Instant::now();
    let tx = conn.transaction().await.unwrap();
    {
        let ins = tx.prepare("INSERT INTO ins VALUES (?, ?, ?)").await.unwrap();
        for i in 0..N_INSERT {
            ins.execute(params![i, i * 3, text20(i)]).await.unwrap();
            ins.reset();
        }
    }
    tx.commit().await.unwrap();
    let dt = t.elapsed().as_secs_f64();
    println!("inserts_per_s {}", N_INSERT as f64 / dt);

    // 3. full scan of 1M rows (integer, real, text 20, blob 16)
    conn.execute("CREATE TABLE scan (i INTEGER, r REAL, t TEXT, b BLOB)", ()).await.unwrap();
    let tx = conn.transaction().await.unwrap();
    {
        let ins = tx.prepare("INSERT INTO scan VALUES (?, ?, ?, ?)").await.unwrap();
        for i in 0..N_SCAN {
            ins.execute(params![i, i as f64 * 0.5, text20(i), blob16(i)]).await.unwrap();
            ins.reset();
        }
    }
    tx.commit().await.unwrap();
    let t = Instant::now();
    let mut rows = conn.query("SELECT i, r, t, b FROM scan", ()).await.unwrap();
    let mut n = 0i64;
    let mut bytes = 0usize;
    while let Some(row) = rows.next().await.unwrap() {
        for c in 0..4 {
            match row.get_value(c).unwrap() {
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
    println!("scan_rows_per_s {}", N_SCAN as f64 / dt);

    // 4. one 1,000-row batch insert (median of repeats)
    conn.execute("CREATE TABLE batch (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)", ()).await.unwrap();
    let mut times = Vec::new();
    let mut next_id = 0i64;
    for _ in 0..BATCH_REPEATS {
        let t = Instant::now();
        let tx = conn.transaction().await.unwrap();
        {
            let ins = tx.prepare("INSERT INTO batch VALUES (?, ?, ?)").await.unwrap();
            for _ in 0..BATCH_ROWS {
                ins.execute(params![next_id, next_id * 3, text20(next_id)]).await.unwrap();
                ins.reset();
                next_id += 1;
            }
        }
        tx.commit().await.unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("batch_1000_ms {}", times[times.len() / 2] * 1000.0);
}
