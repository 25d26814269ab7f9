//! Baseline for bench/: the same workloads as `bench/bench.ml`, written
//! directly in Rust against the libsql crate (local file, WAL,
//! synchronous=NORMAL). Prints `metric value` lines.
//!
//! Usage: native_bench DIR             local workloads
//!        native_bench remote URL DIR  remote and replica workloads against
//!                                     sqld (see `remote` below)
//!        native_bench wan URL OTHER_URL DIR  per-operation wall times
//!                                     through a delay proxy (see `wan`)
//!        native_bench synced URL DIR N  a synced database (the turso
//!                                     crate) against tursodb --sync-server
//!                                     (see `synced` below)

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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("remote") {
        return remote(&args[2], &args[3]).await;
    }
    if args.get(1).map(String::as_str) == Some("wan") {
        return wan(&args[2], &args[3], &args[4]).await;
    }
    if args.get(1).map(String::as_str) == Some("synced") {
        return synced(&args[2], &args[3], args[4].parse().unwrap()).await;
    }
    let dir = args.get(1).expect("usage: native_bench DIR");
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

const REMOTE_INSERTS: usize = 200;
const REMOTE_READS: usize = 1000;
const REMOTE_BATCHES: usize = 10;

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// `repeats` batches of BATCH_ROWS inserts into `table` as one SQL text
/// (values inlined) in a transaction, ids after `id`: each one's seconds.
async fn text_batches(conn: &Connection, table: &str, id: &mut i64, repeats: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..repeats {
        let mut sql = String::new();
        for _ in 0..BATCH_ROWS {
            *id += 1;
            let i = *id;
            sql.push_str(&format!("INSERT INTO {table} VALUES ({i}, {}, '{}');", i * 3, text20(i)));
        }
        let t = Instant::now();
        conn.execute_transactional_batch(&sql).await.unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times
}

fn report(prefix: &str, name: &str, v: Vec<f64>) {
    println!("{prefix}_{name}_p50_ms {}", pct(v.clone(), 0.5) * 1000.0);
    println!("{prefix}_{name}_p99_ms {}", pct(v, 0.99) * 1000.0);
}

/// The workloads of `bench.exe remote`, written with the libsql crate the
/// way a Rust program would: single-row inserts (autocommit), a 1,000-row
/// insert (a transaction with a prepared statement: one request per row;
/// and a text batch with the values inlined: one request), point reads.
/// Each on a remote connection (`remote_`) and on an embedded replica
/// (`replica_`).
async fn remote(url: &str, dir: &str) {
    let remote = Builder::new_remote(url.to_string(), String::new()).build().await.unwrap();
    let path = format!("{dir}/native-replica.db");
    let replica = Builder::new_remote_replica(path, url.to_string(), String::new()).build().await.unwrap();
    replica.sync().await.unwrap();
    for (prefix, db) in [("remote", &remote), ("replica", &replica)] {
        let conn = db.connect().unwrap();
        let table = format!("nb_{prefix}");
        conn.execute(&format!("DROP TABLE IF EXISTS {table}"), ()).await.unwrap();
        conn.execute(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"), ()).await.unwrap();
        let ins_sql = format!("INSERT INTO {table} VALUES (?, ?, ?)");
        // single-row inserts
        let mut lat = Vec::new();
        let mut id = 0i64;
        for _ in 0..REMOTE_INSERTS {
            id += 1;
            let t = Instant::now();
            conn.execute(&ins_sql, params![id, id * 3, text20(id)]).await.unwrap();
            lat.push(t.elapsed().as_secs_f64());
        }
        report(prefix, "insert", lat);
        // 1,000-row inserts: a transaction and a prepared statement
        let mut times = Vec::new();
        for _ in 0..REMOTE_BATCHES {
            let t = Instant::now();
            let tx = conn.transaction().await.unwrap();
            {
                let ins = tx.prepare(&ins_sql).await.unwrap();
                for _ in 0..BATCH_ROWS {
                    id += 1;
                    ins.execute(params![id, id * 3, text20(id)]).await.unwrap();
                    ins.reset();
                }
            }
            tx.commit().await.unwrap();
            times.push(t.elapsed().as_secs_f64());
        }
        println!("{prefix}_batch_tx_ms {}", pct(times, 0.5) * 1000.0);
        // and a text batch, values inlined
        let times = text_batches(&conn, &table, &mut id, REMOTE_BATCHES).await;
        println!("{prefix}_batch_text_ms {}", pct(times, 0.5) * 1000.0);
        if prefix == "replica" {
            let mut rounds = 0;
            while db.sync().await.unwrap().frames_synced() > 0 {
                rounds += 1;
            }
            eprintln!("replica caught up in {rounds} sync rounds");
        }
        // point reads
        let sel_sql = format!("SELECT b FROM {table} WHERE id = ?");
        let sel_once = conn.prepare(&sel_sql).await.unwrap();
        let mut lat = Vec::new();
        for i in 0..REMOTE_READS as i64 {
            let key = (i * 7919) % id + 1;
            let t = Instant::now();
            // On a libsql 0.10 replica, a statement prepared once and reset
            // returns no row the second time: there it is prepared each time
            // (a local prepare, from SQLite's cache of the schema).
            let fresh;
            let sel = if prefix == "replica" {
                fresh = conn.prepare(&sel_sql).await.unwrap();
                &fresh
            } else {
                &sel_once
            };
            let mut rows = sel.query(params![key]).await.unwrap();
            let Some(row) = rows.next().await.unwrap() else {
                let mut r = conn.query(&format!("SELECT count(*), max(id) FROM {table}"), ()).await.unwrap();
                let r = r.next().await.unwrap().unwrap();
                panic!(
                    "no row for id {key} of {id}: the table has {:?} rows, max id {:?}",
                    r.get_value(0),
                    r.get_value(1)
                );
            };
            assert!(matches!(row.get_value(0).unwrap(), Value::Text(_)));
            drop(row);
            drop(rows);
            sel.reset();
            lat.push(t.elapsed().as_secs_f64());
        }
        report(prefix, "read", lat);
    }
}

/// The synced workloads of bench/bench.ml's `SY`, on the turso crate
/// directly: single-row inserts (autocommit, local), then N rows inserted
/// in one transaction, pushed by one client and pulled by another (which
/// bootstrapped before). Table `t_native_N` (fresh per run: the caller
/// gives a fresh N or server).
async fn synced(url: &str, dir: &str, n: i64) {
    let open = |name: &str| {
        turso::sync::Builder::new_remote(&format!("{dir}/{name}")).with_remote_url(url).bootstrap_if_empty(true).build()
    };
    let a = open("native-a.db").await.unwrap();
    let b = open("native-b.db").await.unwrap();
    let ca = a.connect().await.unwrap();
    let cb = b.connect().await.unwrap();
    let table = format!("t_native_{n}_{}", std::process::id());
    ca.execute(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"), ()).await.unwrap();
    a.push().await.unwrap();
    b.pull().await.unwrap();
    let mut times = Vec::new();
    let mut ins = ca.prepare(&format!("INSERT INTO {table} VALUES (?, ?, ?)")).await.unwrap();
    for i in 1..=200i64 {
        let t = Instant::now();
        ins.execute(turso::params![i, i * 3, text20(i)]).await.unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!("synced_insert_p50_ms {}", times[times.len() / 2] * 1000.);
    println!("synced_insert_p99_ms {}", times[times.len() * 99 / 100] * 1000.);
    a.push().await.unwrap();
    b.pull().await.unwrap();
    ca.execute("BEGIN", ()).await.unwrap();
    for i in 1000..1000 + n {
        ins.execute(turso::params![i, i * 3, text20(i)]).await.unwrap();
    }
    ca.execute("COMMIT", ()).await.unwrap();
    let t = Instant::now();
    a.push().await.unwrap();
    println!("synced_push_ms {}", t.elapsed().as_secs_f64() * 1000.);
    let t = Instant::now();
    assert!(b.pull().await.unwrap());
    println!("synced_pull_ms {}", t.elapsed().as_secs_f64() * 1000.);
    let mut r = cb.query(&format!("SELECT count(*) FROM {table}"), ()).await.unwrap();
    let row = r.next().await.unwrap().unwrap();
    assert_eq!(row.get_value(0).unwrap(), turso::Value::Integer(200 + n));
}

/// The operations of `bench.exe wan`, the way a Rust program writes them
/// with the libsql crate, on a remote connection and on an embedded replica
/// that reach sqld at `url` (the delay proxy); `other` reaches sqld
/// directly (another client, for "sync after another client's write").
/// Prints `{remote|replica}_{op}_ms` medians of WAN_REPEATS.
async fn wan(url: &str, other: &str, dir: &str) {
    const WAN_REPEATS: usize = 5;
    let med = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] * 1000.0
    };
    let remote = Builder::new_remote(url.to_string(), String::new()).build().await.unwrap();
    let replica =
        Builder::new_remote_replica(format!("{dir}/native-wan-replica.db"), url.to_string(), String::new())
            .build()
            .await
            .unwrap();
    let writer = Builder::new_remote(other.to_string(), String::new()).build().await.unwrap().connect().unwrap();
    replica.sync().await.unwrap();
    for (prefix, db) in [("remote", &remote), ("replica", &replica)] {
        let conn = db.connect().unwrap();
        let table = format!("nw_{prefix}_{}", std::process::id());
        writer.execute(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"), ()).await.unwrap();
        if prefix == "replica" {
            replica.sync().await.unwrap();
        }
        let ins_sql = format!("INSERT INTO {table} VALUES (?, ?, ?)");
        let mut id = 0i64;
        let mut times = Vec::new();
        for _ in 0..WAN_REPEATS {
            id += 1;
            let t = Instant::now();
            conn.execute(&ins_sql, params![id, id * 3, text20(id)]).await.unwrap();
            times.push(t.elapsed().as_secs_f64());
        }
        println!("{prefix}_insert_ms {}", med(times));
        // 1,000 rows in one request: a text batch in a transaction (a
        // prepared statement in a transaction would be one request per row)
        let times = text_batches(&conn, &table, &mut id, WAN_REPEATS).await;
        println!("{prefix}_insert1000_ms {}", med(times));
        if prefix == "replica" {
            while replica.sync().await.unwrap().frames_synced() > 0 {}
        }
        let sel_sql = format!("SELECT b FROM {table} WHERE id = ?");
        let mut times = Vec::new();
        for i in 0..WAN_REPEATS as i64 {
            let t = Instant::now();
            let mut rows = conn.query(&sel_sql, params![i + 1]).await.unwrap();
            assert!(rows.next().await.unwrap().is_some());
            times.push(t.elapsed().as_secs_f64());
        }
        println!("{prefix}_read_ms {}", med(times));
        // an interactive transaction: insert, update, read it back, commit
        let mut times = Vec::new();
        for _ in 0..WAN_REPEATS {
            id += 1;
            let t = Instant::now();
            let tx = conn.transaction().await.unwrap();
            tx.execute(&ins_sql, params![id, id * 3, text20(id)]).await.unwrap();
            tx.execute(&format!("UPDATE {table} SET a = a + 1 WHERE id = ?"), params![id]).await.unwrap();
            let mut rows = tx.query(&format!("SELECT a FROM {table} WHERE id = ?"), params![id]).await.unwrap();
            assert!(rows.next().await.unwrap().is_some());
            drop(rows);
            tx.commit().await.unwrap();
            times.push(t.elapsed().as_secs_f64());
        }
        println!("{prefix}_tx3_ms {}", med(times));
        if prefix == "replica" {
            let mut times = Vec::new();
            for _ in 0..WAN_REPEATS {
                id += 1;
                writer.execute(&ins_sql, params![id, id * 3, text20(id)]).await.unwrap();
                let t = Instant::now();
                replica.sync().await.unwrap();
                let mut rows = conn.query(&sel_sql, params![id]).await.unwrap();
                assert!(rows.next().await.unwrap().is_some(), "the other client's row after sync");
                times.push(t.elapsed().as_secs_f64());
            }
            println!("{prefix}_sync_ms {}", med(times));
        }
        writer.execute(&format!("DROP TABLE {table}"), ()).await.unwrap();
    }
}
