use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::time::Instant;
const BLOCKS: TableDefinition<u32, &[u8]> = TableDefinition::new("blocks");
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let mut parts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().map_or(true, |x| x != "seg") {
            continue;
        }
        let db = redb::Builder::new().open_read_only(&p).unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(BLOCKS).unwrap();
        for row in t.iter().unwrap() {
            let (_, v) = row.unwrap();
            let b = v.value();
            let w =
                |i: usize| u32::from_le_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize;
            let (hr, hz, vr, vz) = (w(1), w(2), w(3), w(4));
            let body = &b[24..];
            let h = zstd::bulk::decompress(&body[..hz], hr).unwrap();
            let v = zstd::bulk::decompress(&body[hz..hz + vz], vr).unwrap();
            parts.push((h, v));
        }
    }
    let raw: usize = parts.iter().map(|(h, v)| h.len() + v.len()).sum();
    println!(
        "{} blocks, {} raw bytes (heads {}, values {})",
        parts.len(),
        raw,
        parts.iter().map(|p| p.0.len()).sum::<usize>(),
        parts.iter().map(|p| p.1.len()).sum::<usize>()
    );
    for level in [3, 1, -1, -3, -5] {
        let mut c = zstd::bulk::Compressor::new(level).unwrap();
        let t = Instant::now();
        let mut out = 0;
        for (h, v) in &parts {
            out += c.compress(h).unwrap().len() + c.compress(v).unwrap().len();
        }
        let el = t.elapsed();
        println!(
            "level {level:>3}: {out} bytes ({:.2}x), {:.0} MB/s",
            raw as f64 / out as f64,
            raw as f64 / el.as_secs_f64() / 1e6
        );
    }
    let t = Instant::now();
    let mut out = 0;
    for (h, v) in &parts {
        out += lz4_flex_len(h) + lz4_flex_len(v);
    }
    let _ = (t, out);
}
fn lz4_flex_len(_b: &[u8]) -> usize {
    0
}
