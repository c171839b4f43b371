//! Consumer groups with librdkafka: partitions shared across members, rebalances when members
//! leave or stop heartbeating, and committed offsets that survive restarts and crashes.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use common::{ChildBroker, TestBroker, WAIT};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

fn group_consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    let consumer: BaseConsumer = common::client(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("consumer");
    consumer.subscribe(&["shared"]).expect("subscribe");
    consumer
}

fn assigned(consumer: &BaseConsumer) -> HashSet<i32> {
    consumer
        .assignment()
        .map(|a| a.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default()
}

/// Polls every consumer until `done` holds for their assignments (bounded by WAIT).
fn poll_until(
    consumers: &[&BaseConsumer],
    seen: &mut [Vec<String>],
    done: impl Fn(&[HashSet<i32>], &[Vec<String>]) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        for (i, c) in consumers.iter().enumerate() {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(20)) {
                seen[i].push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
        }
        let assignments: Vec<HashSet<i32>> = consumers.iter().map(|c| assigned(c)).collect();
        if done(&assignments, seen) {
            return;
        }
        let total: usize = seen.iter().map(Vec::len).sum();
        assert!(
            Instant::now() < deadline,
            "gave up waiting: assignments {assignments:?}, {total} messages"
        );
    }
}

async fn produce(bootstrap: &str, prefix: &str, count: usize) {
    let producer = common::producer(bootstrap, &[]);
    let mut deliveries = Vec::new();
    for i in 0..count {
        let value = format!("{prefix}-{i}");
        let key = i.to_string();
        deliveries.push(
            producer
                .send_result(FutureRecord::to("shared").key(&key).payload(&value))
                .expect("enqueue"),
        );
    }
    for d in deliveries {
        d.await.expect("delivery").expect("delivered");
    }
}

/// A broker whose groups rebalance at once, holding the six-partition topic `shared`.
async fn start_with_shared(dir: &std::path::Path) -> TestBroker {
    let broker = TestBroker::start_with(dir, &[("group.initial.rebalance.delay.ms", "0")]).await;
    create_shared(&broker.bootstrap).await;
    broker
}

async fn create_shared(bootstrap: &str) {
    let admin: rdkafka::admin::AdminClient<_> = common::client(bootstrap).create().expect("admin");
    let topic =
        rdkafka::admin::NewTopic::new("shared", 6, rdkafka::admin::TopicReplication::Fixed(1));
    let created = admin
        .create_topics([&topic], &rdkafka::admin::AdminOptions::new())
        .await
        .expect("create");
    assert!(created[0].is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_six_partitions_and_take_over_when_one_leaves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start_with_shared(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    let (c1, c2, c3) = tokio::task::spawn_blocking(move || {
        let c: Vec<BaseConsumer> = (0..3).map(|_| group_consumer(&bootstrap, "trio")).collect();
        let mut seen = vec![Vec::new(); 3];
        let refs: Vec<&BaseConsumer> = c.iter().collect();
        poll_until(&refs, &mut seen, |a, _| {
            a.iter().all(|p| !p.is_empty()) && a.iter().map(HashSet::len).sum::<usize>() == 6
        });
        let union: HashSet<i32> = refs.iter().flat_map(|c| assigned(c)).collect();
        assert_eq!(union.len(), 6, "every partition has exactly one owner");
        let mut it = c.into_iter();
        (
            it.next().expect("c1"),
            it.next().expect("c2"),
            it.next().expect("c3"),
        )
    })
    .await
    .expect("join");

    produce(&broker.bootstrap, "first", 600).await;
    let (c1, c2, c3) = tokio::task::spawn_blocking(move || {
        let mut seen = vec![Vec::new(); 3];
        poll_until(&[&c1, &c2, &c3], &mut seen, |_, seen| {
            seen.iter().map(Vec::len).sum::<usize>() >= 600
        });
        let all: Vec<&String> = seen.iter().flatten().collect();
        let unique: HashSet<&&String> = all.iter().collect();
        assert_eq!(
            (all.len(), unique.len()),
            (600, 600),
            "each message exactly once across the group"
        );
        assert!(seen.iter().all(|s| !s.is_empty()), "every member got work");
        (c1, c2, c3)
    })
    .await
    .expect("consume");

    // The third member leaves; the other two take its partitions and read what comes next.
    drop(c3);
    produce(&broker.bootstrap, "second", 300).await;
    tokio::task::spawn_blocking(move || {
        let mut seen = vec![Vec::new(); 2];
        let second = |seen: &[Vec<String>]| -> usize {
            seen.iter()
                .flatten()
                .filter(|s| s.starts_with("second"))
                .collect::<HashSet<_>>()
                .len()
        };
        poll_until(&[&c1, &c2], &mut seen, |a, seen| {
            second(seen) >= 300 && a.iter().map(HashSet::len).sum::<usize>() == 6
        });
        let second: HashSet<&String> = seen
            .iter()
            .flatten()
            .filter(|s| s.starts_with("second"))
            .collect();
        assert_eq!(
            second.len(),
            300,
            "the departed member's partitions were taken over"
        );
    })
    .await
    .expect("takeover");
    broker.stop().await;
}

/// Sends one request on a bare connection and decodes the response.
fn raw_request<R: Encodable, S: Decodable>(
    stream: &mut TcpStream,
    api: ApiKey,
    version: i16,
    request: &R,
) -> S {
    let mut header = RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    header.correlation_id = 1;
    header.client_id = Some(StrBytes::from_static_str("ghost"));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, api.request_header_version(version))
        .expect("header");
    request.encode(&mut body, version).expect("body");
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    stream.write_all(&frame).expect("send");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("size");
    let mut response = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut response).expect("response");
    let mut response = bytes::Bytes::from(response);
    ResponseHeader::decode(&mut response, api.response_header_version(version))
        .expect("response header");
    S::decode(&mut response, version).expect("response body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_heartbeating_is_evicted_after_its_session_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start_with_shared(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let consumer = group_consumer(&bootstrap, "haunted");
        let mut seen = vec![Vec::new()];
        poll_until(&[&consumer], &mut seen, |a, _| a[0].len() == 6);

        // A member that joins and then goes silent, as a killed process would: it never leaves.
        // It joins from another thread, since the live member must keep polling to rejoin.
        let address = bootstrap.clone();
        let ghost = std::thread::spawn(move || {
            let mut ghost = bare_connection(&address);
            let joined = join_shared(&mut ghost, "haunted", "", 6000);
            assert_eq!(joined.error_code, 0);
            (ghost, Instant::now())
        });
        poll_until(&[&consumer], &mut seen, |a, _| a[0].len() < 6);
        let (ghost, joined_at) = ghost.join().expect("ghost thread");
        // The ghost's share returns to the live member once its session runs out.
        poll_until(&[&consumer], &mut seen, |a, _| a[0].len() == 6);
        let waited = joined_at.elapsed();
        assert!(
            waited >= Duration::from_secs(5),
            "evicted before its 6 s session timeout: {waited:?}"
        );
        drop(ghost);
    })
    .await
    .expect("eviction");
    broker.stop().await;
}

/// A connection for raw requests, its reads bounded by WAIT.
fn bare_connection(address: &str) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
}

/// A bare member's JoinGroup (v3: no MEMBER_ID_REQUIRED round trip) for the `shared` topic. The
/// reply comes once the rebalance it takes part in completes.
fn join_shared(
    stream: &mut TcpStream,
    group: &str,
    member_id: &str,
    session_timeout_ms: i32,
) -> JoinGroupResponse {
    let mut subscription = BytesMut::new();
    subscription.put_i16(0);
    let mut sub = ConsumerProtocolSubscription::default();
    sub.topics = vec![StrBytes::from_static_str("shared")];
    sub.encode(&mut subscription, 0).expect("subscription");
    let mut protocol = join_group_request::JoinGroupRequestProtocol::default();
    protocol.name = StrBytes::from_static_str("range");
    protocol.metadata = subscription.freeze();
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(StrBytes::from_string(group.to_string()));
    join.member_id = StrBytes::from_string(member_id.to_string());
    join.session_timeout_ms = session_timeout_ms;
    join.rebalance_timeout_ms = 30_000;
    join.protocol_type = StrBytes::from_static_str("consumer");
    join.protocols = vec![protocol];
    raw_request(stream, ApiKey::JoinGroup, 3, &join)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_commits_what_it_processed_while_the_group_prepares_a_rebalance() {
    // As in Kafka: a consumer told of a rebalance commits what it processed (in its revoke
    // callback) before it rejoins; refusing that commit makes the partitions' next owner read
    // those records again.
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start_with_shared(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let group = GroupId(StrBytes::from_static_str("handover"));
        let mut first = bare_connection(&bootstrap);
        let joined = join_shared(&mut first, "handover", "", 10_000);
        assert_eq!(joined.error_code, 0);
        let (member, generation) = (joined.member_id.clone(), joined.generation_id);
        let mut sync = SyncGroupRequest::default();
        sync.group_id = group.clone();
        sync.generation_id = generation;
        sync.member_id = member.clone();
        let synced: SyncGroupResponse = raw_request(&mut first, ApiKey::SyncGroup, 3, &sync);
        assert_eq!(synced.error_code, 0);

        // A second member joins: the group prepares a rebalance and waits for the first to
        // rejoin, which learns of it from its heartbeat.
        let address = bootstrap.clone();
        let second = std::thread::spawn(move || {
            let mut second = bare_connection(&address);
            join_shared(&mut second, "handover", "", 10_000).error_code
        });
        let mut heartbeat = HeartbeatRequest::default();
        heartbeat.group_id = group.clone();
        heartbeat.generation_id = generation;
        heartbeat.member_id = member.clone();
        let deadline = Instant::now() + WAIT;
        loop {
            let beat: HeartbeatResponse = raw_request(&mut first, ApiKey::Heartbeat, 3, &heartbeat);
            if beat.error_code == 27 {
                break; // REBALANCE_IN_PROGRESS
            }
            assert!(
                Instant::now() < deadline,
                "the group never began a rebalance"
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        let mut partition = offset_commit_request::OffsetCommitRequestPartition::default();
        partition.partition_index = 0;
        partition.committed_offset = 42;
        let mut topic = offset_commit_request::OffsetCommitRequestTopic::default();
        topic.name = TopicName(StrBytes::from_static_str("shared"));
        topic.partitions = vec![partition];
        let mut commit = OffsetCommitRequest::default();
        commit.group_id = group.clone();
        commit.generation_id_or_member_epoch = generation;
        commit.member_id = member.clone();
        commit.topics = vec![topic];
        let committed: OffsetCommitResponse =
            raw_request(&mut first, ApiKey::OffsetCommit, 2, &commit);
        assert_eq!(
            committed.topics[0].partitions[0].error_code, 0,
            "a commit of the generation being rebalanced was refused"
        );

        // The first member rejoins, which completes the rebalance for both.
        let rejoined = join_shared(&mut first, "handover", member.as_str(), 10_000);
        assert_eq!(rejoined.error_code, 0);
        assert_eq!(second.join().expect("second member"), 0);
        let reader = group_consumer(&bootstrap, "handover");
        let mut list = TopicPartitionList::new();
        list.add_partition("shared", 0);
        let stored = reader.committed_offsets(list, WAIT).expect("committed");
        assert_eq!(
            stored.find_partition("shared", 0).map(|p| p.offset()),
            Some(Offset::Offset(42))
        );
    })
    .await
    .expect("handover");
    broker.stop().await;
}

#[test]
fn committed_offsets_survive_a_restart_and_a_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = ChildBroker::spawn(dir.path());
    runtime.block_on(async {
        create_shared(&broker.bootstrap).await;
    });
    let commit = |bootstrap: &str, group: &str, offsets: &[(i32, i64)]| {
        let consumer: BaseConsumer = common::client(bootstrap)
            .set("group.id", group)
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset("shared", *p, Offset::Offset(*o))
                .expect("tpl");
        }
        consumer.commit(&tpl, CommitMode::Sync).expect("commit");
    };
    let committed = |bootstrap: &str, group: &str| -> HashMap<i32, i64> {
        let consumer: BaseConsumer = common::client(bootstrap)
            .set("group.id", group)
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..6 {
            tpl.add_partition("shared", p);
        }
        let found = consumer.committed_offsets(tpl, WAIT).expect("committed");
        found
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect()
    };
    commit(&broker.bootstrap, "durable-group", &[(0, 11), (3, 33)]);
    commit(&broker.bootstrap, "durable-group", &[(3, 34)]);
    commit(&broker.bootstrap, "other-group", &[(5, 5)]);
    broker.kill();

    let broker = ChildBroker::spawn(dir.path());
    assert_eq!(
        committed(&broker.bootstrap, "durable-group"),
        HashMap::from([(0, 11), (3, 34)])
    );
    assert_eq!(
        committed(&broker.bootstrap, "other-group"),
        HashMap::from([(5, 5)])
    );
    assert!(
        broker.log_contains("loaded consumer groups groups=2"),
        "{:?}",
        broker.log.lock().expect("lock")
    );
}
