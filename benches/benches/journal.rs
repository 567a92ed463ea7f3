//! The cost of durability: appending fsynced records to the run journal, and
//! reading a journal back (what `--resume` and `evalkit report` do).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use evalkit_benches::sample_record;
use evalkit_record::journal_file::{self as journal, Journal};

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(100));
    group.bench_function("append_100_fsynced", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temp dir"),
            |dir| {
                let mut journal = Journal::open(&dir.path().join("records.jsonl")).expect("open");
                for i in 0..100 {
                    journal.append(&sample_record(i)).expect("append");
                }
            },
            BatchSize::PerIteration,
        );
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("records.jsonl");
    let mut journal = Journal::open(&path).expect("open");
    for i in 0..10_000 {
        journal.append(&sample_record(i)).expect("append");
    }
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("read_10k", |b| b.iter(|| journal::read(&path).expect("read").records.len()));
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
