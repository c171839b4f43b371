//! Fuzzing the broker's decoders with arbitrary and mutated input (proptest): request frames
//! through dispatch, record batches through validation, and `__consumer_offsets` records. None
//! may panic, whatever arrives. `PROPTEST_CASES` raises the number of cases (CI runs more).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use crate::log::batch;
use crate::log::validate::validate_records;

/// A well-formed request header for `api` at `version`, so that bodies reach the decoders.
fn header(api: i16, version: i16) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i16(api);
    buf.put_i16(version);
    buf.put_i32(7);
    buf.put_i16(4);
    buf.put_slice(b"fuzz");
    if version >= 4 {
        // Flexible headers end in tagged fields; harmless for the others, which ignore it.
        buf.put_u8(0);
    }
    buf
}

type Shared = (
    tempfile::TempDir,
    tokio::runtime::Runtime,
    Arc<crate::Broker>,
);

/// One broker for every case: requests that change it (create topics, commit offsets) are fine.
fn broker() -> &'static Shared {
    static BROKER: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    BROKER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let props = [
            ("log.dirs".to_string(), dir.path().display().to_string()),
            (
                "listeners".to_string(),
                "PLAINTEXT://127.0.0.1:0".to_string(),
            ),
        ]
        .into();
        let (config, _) = crate::BrokerConfig::from_properties(&props).expect("config");
        let broker = runtime
            .block_on(async { crate::Broker::open(config) })
            .expect("open");
        (dir, runtime, broker)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_frames_never_panic_the_dispatcher(
        api in 0i16..80,
        version in -1i16..20,
        body in proptest::collection::vec(any::<u8>(), 0..512),
        raw in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (_, runtime, broker) = broker();
        let _guard = runtime.enter();
        let mut frame = header(api, version);
        frame.put_slice(&body);
        let _ = crate::protocol::dispatch::dispatch(broker, frame.freeze(), "fuzz", 0);
        let _ = crate::protocol::dispatch::dispatch(broker, Bytes::from(raw), "fuzz", 0);
    }

    #[test]
    fn mutated_batches_never_panic_validation(
        count in 1i32..20,
        value in proptest::collection::vec(any::<u8>(), 0..64),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        claimed in proptest::option::of(any::<i32>()),
        compacted in any::<bool>(),
    ) {
        let mut bytes = batch::test_support::batch(count, &value, 1_700_000_000_000);
        for (at, byte) in flips {
            let len = bytes.len();
            bytes[at % len] ^= byte;
        }
        if let Some(claimed) = claimed {
            bytes[57..61].copy_from_slice(&claimed.to_be_bytes());
        }
        if let Ok(header) = batch::parse_framed(&bytes) {
            let _ = validate_records(&header, &bytes, compacted.then_some("t-0"));
        }
    }

    #[test]
    fn arbitrary_batches_never_panic_validation(bytes in proptest::collection::vec(any::<u8>(), 61..400)) {
        if let Ok(header) = batch::parse_framed(&bytes) {
            let _ = validate_records(&header, &bytes, Some("t-0"));
        }
    }

    #[test]
    fn arbitrary_consumer_offsets_records_never_panic(
        key in proptest::collection::vec(any::<u8>(), 0..128),
        value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..256)),
        version in 0i16..5,
    ) {
        let mut prefixed = BytesMut::new();
        prefixed.put_i16(version);
        prefixed.put_slice(&key);
        let value = value.map(Bytes::from);
        let _ = crate::group::store::decode(&prefixed.freeze(), value.as_ref());
        let _ = crate::group::store::decode(&Bytes::from(key), value.as_ref());
    }
}
