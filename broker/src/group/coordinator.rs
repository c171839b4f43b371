//! The group coordinator: every group on this broker, their committed offsets, and their
//! persistence in `__consumer_offsets`. One lock guards all groups; nothing waits while holding it.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::Compression;
use tokio::sync::oneshot;

use super::state::{Group, JoinResult, Member, State, SyncResult};
use super::store::{self, CommittedOffset, Entry, OFFSETS_TOPIC};
use crate::config::BrokerConfig;
use crate::log::batch::{self, BatchHeader};
use crate::log::segment::now_ms;
use crate::partition::Partition;
use crate::topics::{TopicError, Topics};

/// Group settings taken from the broker config.
#[derive(Debug, Clone, Copy)]
pub struct GroupSettings {
    pub initial_delay: Duration,
    pub min_session: Duration,
    pub max_session: Duration,
    pub offsets_partitions: i32,
    pub metadata_max_bytes: usize,
}

impl GroupSettings {
    pub fn from_config(config: &BrokerConfig) -> Self {
        Self {
            initial_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
            min_session: Duration::from_millis(config.group_min_session_timeout_ms),
            max_session: Duration::from_millis(config.group_max_session_timeout_ms),
            offsets_partitions: config.offsets_topic_partitions,
            metadata_max_bytes: config.offset_metadata_max_bytes,
        }
    }
}

/// The member a request speaks for, as SyncGroup, Heartbeat and OffsetCommit name it.
#[derive(Debug, Clone, Copy)]
pub struct MemberRef<'a> {
    pub group_id: &'a str,
    pub generation: i32,
    pub member_id: &'a str,
    pub instance_id: Option<&'a str>,
}

/// A JoinGroup request, decoded.
#[derive(Debug)]
pub struct JoinArgs {
    pub group_id: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED and its id.
    pub require_member_id: bool,
}

/// An answer now, or a channel that will carry it once the group is ready.
pub enum Pending<T> {
    Ready(T),
    Wait(oneshot::Receiver<T>),
}

/// An append to `__consumer_offsets` that must reach disk before the client hears of it.
pub type DurableWrite = Option<(Arc<Partition>, i64)>;

/// Committed offsets by topic: each partition with its offset, if it has one.
pub type TopicOffsets = Vec<(String, Vec<(i32, Option<CommittedOffset>)>)>;

/// A group as DescribeGroups reports it.
#[derive(Debug, Default)]
pub struct Description {
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol: String,
    /// member id, instance id, client id, client host, metadata, assignment
    pub members: Vec<(String, Option<String>, String, String, Bytes, Bytes)>,
}

#[derive(Debug)]
pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    settings: GroupSettings,
}

impl GroupCoordinator {
    /// Creates `__consumer_offsets` if needed and rebuilds every group and committed offset from
    /// it, before the broker accepts clients.
    pub fn load(topics: &Topics, settings: GroupSettings) -> Result<Self, TopicError> {
        let topic = match topics.get(OFFSETS_TOPIC) {
            Some(topic) => topic,
            None => {
                let configs: BTreeMap<String, Option<String>> = [
                    ("cleanup.policy", "compact"),
                    ("segment.bytes", "104857600"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                .collect();
                topics.create(
                    OFFSETS_TOPIC,
                    settings.offsets_partitions,
                    1,
                    &configs,
                    false,
                )?
            }
        };
        let mut groups: HashMap<String, Group> = HashMap::new();
        let mut records = 0u64;
        for partition in topic.partitions() {
            let log = partition.log();
            log.for_each_record(log.log_start_offset(), |record| {
                records += 1;
                let Some(key) = &record.key else { return };
                match store::decode(key, record.value.as_ref()) {
                    Ok(Entry::Offset {
                        group,
                        topic,
                        partition,
                        value,
                    }) => {
                        let g = groups
                            .entry(group.clone())
                            .or_insert_with(|| Group::new(&group));
                        match value {
                            Some(v) => {
                                g.offsets.insert((topic, partition), v);
                            }
                            None => {
                                g.offsets.remove(&(topic, partition));
                            }
                        }
                    }
                    Ok(Entry::Group {
                        group,
                        value: Some(stored),
                    }) => {
                        let offsets = groups.remove(&group).map(|g| g.offsets).unwrap_or_default();
                        let mut g = Group::restore(&group, &stored);
                        g.offsets = offsets;
                        groups.insert(group, g);
                    }
                    Ok(Entry::Group { group, value: None }) => {
                        groups.remove(&group);
                    }
                    Err(e) => tracing::warn!(error = %e, "skipping record"),
                }
            })?;
        }
        tracing::info!(groups = groups.len(), records, "loaded consumer groups");
        Ok(Self {
            groups: Mutex::new(groups),
            settings,
        })
    }

    fn groups(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn join(&self, args: JoinArgs) -> Pending<JoinResult> {
        let now = Instant::now();
        let fail = |e: ResponseError| Pending::Ready(JoinResult::error(e, &args.member_id));
        if args.group_id.is_empty() {
            return fail(ResponseError::InvalidGroupId);
        }
        let session = Duration::from_millis(args.session_timeout_ms.max(0) as u64);
        if session < self.settings.min_session || session > self.settings.max_session {
            return fail(ResponseError::InvalidSessionTimeout);
        }
        let mut groups = self.groups();
        let group = groups
            .entry(args.group_id.clone())
            .or_insert_with(|| Group::new(&args.group_id));
        if !group.supports(&args.protocol_type, &args.protocols) {
            return fail(ResponseError::InconsistentGroupProtocol);
        }
        let mut member_id = args.member_id.clone();
        if member_id.is_empty() {
            if let Some(instance) = &args.instance_id {
                // A static member rejoining under a new id fences its old incarnation.
                if let Some(old) = group.static_members.get(instance).cloned() {
                    if let Some(mut member) = group.members.remove(&old) {
                        let new_id = new_member_id(&args.client_id);
                        if let Some(waiter) = member.join_waiter.take() {
                            let _ = waiter
                                .send(JoinResult::error(ResponseError::FencedInstanceId, &old));
                        }
                        member.id = new_id.clone();
                        if group.leader.as_deref() == Some(old.as_str()) {
                            group.leader = Some(new_id.clone());
                        }
                        group
                            .static_members
                            .insert(instance.clone(), new_id.clone());
                        group.members.insert(new_id.clone(), member);
                        member_id = new_id;
                    }
                }
            }
            if member_id.is_empty() {
                member_id = new_member_id(&args.client_id);
                if args.require_member_id && args.instance_id.is_none() {
                    group.pending.insert(member_id.clone(), now + session);
                    return Pending::Ready(JoinResult::error(
                        ResponseError::MemberIdRequired,
                        &member_id,
                    ));
                }
            }
        } else if !group.members.contains_key(&member_id)
            && group.pending.remove(&member_id).is_none()
        {
            return fail(ResponseError::UnknownMemberId);
        }
        if let Some(instance) = &args.instance_id {
            if group
                .static_members
                .get(instance)
                .is_some_and(|m| *m != member_id)
            {
                return fail(ResponseError::FencedInstanceId);
            }
            group
                .static_members
                .insert(instance.clone(), member_id.clone());
        }
        let (tx, rx) = oneshot::channel();
        let rebalance = Duration::from_millis(
            args.rebalance_timeout_ms
                .max(args.session_timeout_ms)
                .max(0) as u64,
        );
        let changed = match group.members.get_mut(&member_id) {
            Some(member) => {
                let changed = member.protocols != args.protocols;
                member.protocols = args.protocols;
                member.session_timeout = session;
                member.rebalance_timeout = rebalance;
                member.last_heartbeat = now;
                if let Some(old) = member.join_waiter.replace(tx) {
                    let _ = old.send(JoinResult::error(
                        ResponseError::UnknownMemberId,
                        &member_id,
                    ));
                }
                changed
            }
            None => {
                group.members.insert(
                    member_id.clone(),
                    Member {
                        id: member_id.clone(),
                        instance_id: args.instance_id.clone(),
                        client_id: args.client_id,
                        client_host: args.client_host,
                        session_timeout: session,
                        rebalance_timeout: rebalance,
                        protocol_type: args.protocol_type.clone(),
                        protocols: args.protocols,
                        assignment: Bytes::new(),
                        last_heartbeat: now,
                        join_waiter: Some(tx),
                        sync_waiter: None,
                    },
                );
                true
            }
        };
        group.protocol_type = Some(args.protocol_type);
        // A known member rejoining a settled group with nothing new just hears the current state.
        let is_leader = group.leader.as_deref() == Some(member_id.as_str());
        if !changed
            && !is_leader
            && matches!(group.state, State::Stable | State::CompletingRebalance)
        {
            if let Some(member) = group.members.get_mut(&member_id) {
                if let Some(waiter) = member.join_waiter.take() {
                    let _ = waiter.send(JoinResult {
                        error: 0,
                        generation: group.generation,
                        protocol_type: group.protocol_type.clone(),
                        protocol: group.protocol.clone(),
                        leader: group.leader.clone().unwrap_or_default(),
                        member_id: member_id.clone(),
                        members: Vec::new(),
                    });
                }
            }
            return Pending::Wait(rx);
        }
        group.prepare_rebalance(now, self.settings.initial_delay);
        if group.all_joined(now) {
            group.complete_join(now);
        }
        Pending::Wait(rx)
    }

    pub fn sync(
        &self,
        topics: &Topics,
        member: MemberRef<'_>,
        protocol_type: Option<&str>,
        protocol: Option<&str>,
        assignments: HashMap<String, Bytes>,
    ) -> (Pending<SyncResult>, DurableWrite) {
        let MemberRef {
            group_id,
            generation,
            member_id,
            instance_id,
        } = member;
        let fail = |e: ResponseError| (Pending::Ready((e.code(), Bytes::new())), None);
        let mut groups = self.groups();
        let Some(group) = groups.get_mut(group_id) else {
            return fail(ResponseError::UnknownMemberId);
        };
        if !group.members.contains_key(member_id) {
            return fail(ResponseError::UnknownMemberId);
        }
        if group.fences(instance_id, member_id) {
            return fail(ResponseError::FencedInstanceId);
        }
        if generation != group.generation {
            return fail(ResponseError::IllegalGeneration);
        }
        if protocol_type.is_some_and(|p| Some(p) != group.protocol_type.as_deref())
            || protocol.is_some_and(|p| Some(p) != group.protocol.as_deref())
        {
            return fail(ResponseError::InconsistentGroupProtocol);
        }
        match group.state {
            State::Empty => fail(ResponseError::UnknownMemberId),
            State::PreparingRebalance => fail(ResponseError::RebalanceInProgress),
            State::Stable => {
                let assignment = group
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                (Pending::Ready((0, assignment)), None)
            }
            State::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(member) = group.members.get_mut(member_id) {
                    member.sync_waiter = Some(tx);
                    member.last_heartbeat = Instant::now();
                }
                let mut write = None;
                if group.leader.as_deref() == Some(member_id) {
                    group.state_timestamp = now_ms();
                    group.complete_sync(assignments);
                    let record = (
                        store::group_key(group_id),
                        Some(store::group_value(&group.stored())),
                    );
                    write = self.write(topics, group_id, vec![record]);
                }
                (Pending::Wait(rx), write)
            }
        }
    }

    pub fn heartbeat(&self, member: MemberRef<'_>) -> i16 {
        let MemberRef {
            group_id,
            generation,
            member_id,
            instance_id,
        } = member;
        let mut groups = self.groups();
        let Some(group) = groups.get_mut(group_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        if group.fences(instance_id, member_id) {
            return ResponseError::FencedInstanceId.code();
        }
        let state = group.state;
        let current = group.generation;
        let Some(member) = group.members.get_mut(member_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        member.last_heartbeat = Instant::now();
        match state {
            State::Empty => ResponseError::UnknownMemberId.code(),
            State::PreparingRebalance => ResponseError::RebalanceInProgress.code(),
            _ if generation != current => ResponseError::IllegalGeneration.code(),
            _ => 0,
        }
    }

    /// Removes members; each is named by member id, instance id, or both. Returns one error code
    /// per member.
    pub fn leave(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
    ) -> Result<Vec<i16>, i16> {
        let now = Instant::now();
        let mut groups = self.groups();
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ResponseError::UnknownMemberId.code());
        };
        let mut codes = Vec::with_capacity(leaving.len());
        let mut removed = false;
        for (member_id, instance_id) in leaving {
            let id = match instance_id {
                Some(instance) => match group.static_members.get(instance) {
                    Some(known) if member_id.is_empty() || known == member_id => {
                        Some(known.clone())
                    }
                    Some(_) => {
                        codes.push(ResponseError::FencedInstanceId.code());
                        continue;
                    }
                    None => None,
                },
                None => group
                    .members
                    .contains_key(member_id)
                    .then(|| member_id.clone()),
            };
            match id {
                Some(id) => {
                    group.remove_member(&id);
                    removed = true;
                    codes.push(0);
                }
                None => codes.push(ResponseError::UnknownMemberId.code()),
            }
        }
        if removed {
            if group.members.is_empty() && group.state != State::PreparingRebalance {
                group.to_empty();
            } else {
                group.prepare_rebalance(now, Duration::ZERO);
                if group.all_joined(now) {
                    group.complete_join(now);
                }
            }
        }
        Ok(codes)
    }

    /// Stores committed offsets. Returns per-partition error codes and the write to wait for.
    pub fn commit(
        &self,
        topics: &Topics,
        member: MemberRef<'_>,
        offsets: Vec<(String, i32, CommittedOffset)>,
    ) -> (Vec<i16>, DurableWrite) {
        let MemberRef {
            group_id,
            generation,
            member_id,
            instance_id,
        } = member;
        let mut groups = self.groups();
        let group_error = match groups.get(group_id) {
            _ if group_id.is_empty() => Some(ResponseError::InvalidGroupId),
            None if generation < 0 => None,
            None => Some(ResponseError::UnknownMemberId),
            Some(group) if generation < 0 && group.state == State::Empty => None,
            Some(group) => {
                let fenced = group.fences(instance_id, member_id);
                if fenced {
                    Some(ResponseError::FencedInstanceId)
                } else if !group.members.contains_key(member_id) {
                    Some(ResponseError::UnknownMemberId)
                } else if generation != group.generation {
                    Some(ResponseError::IllegalGeneration)
                } else if group.state == State::CompletingRebalance {
                    // As Kafka: a member of the generation being rebalanced may still commit
                    // (what it processed, before it rejoins); only between the join and the
                    // sync, when its generation is already the next one, it may not.
                    Some(ResponseError::RebalanceInProgress)
                } else {
                    None
                }
            }
        };
        if let Some(error) = group_error {
            return (vec![error.code(); offsets.len()], None);
        }
        let group = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id));
        if let Some(member) = group.members.get_mut(member_id) {
            member.last_heartbeat = Instant::now();
        }
        let mut codes = Vec::with_capacity(offsets.len());
        let mut records = Vec::new();
        for (topic, partition, committed) in offsets {
            let known = topics
                .get(&topic)
                .is_some_and(|t| t.partition(partition).is_some());
            if !known {
                codes.push(ResponseError::UnknownTopicOrPartition.code());
            } else if committed.metadata.len() > self.settings.metadata_max_bytes {
                codes.push(ResponseError::OffsetMetadataTooLarge.code());
            } else {
                records.push((
                    store::offset_key(group_id, &topic, partition),
                    Some(store::offset_value(&committed)),
                ));
                group.offsets.insert((topic, partition), committed);
                codes.push(0);
            }
        }
        if records.is_empty() {
            return (codes, None);
        }
        let write = self.write(topics, group_id, records);
        if write.is_none() {
            for code in codes.iter_mut().filter(|c| **c == 0) {
                *code = ResponseError::UnknownServerError.code();
            }
        }
        (codes, write)
    }

    /// Committed offsets of a group: for the given partitions, or all of them.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        wanted: Option<Vec<(String, Vec<i32>)>>,
    ) -> TopicOffsets {
        let groups = self.groups();
        let offsets = groups.get(group_id).map(|g| &g.offsets);
        match wanted {
            Some(wanted) => wanted
                .into_iter()
                .map(|(topic, partitions)| {
                    let found = partitions
                        .into_iter()
                        .map(|p| (p, offsets.and_then(|o| o.get(&(topic.clone(), p))).cloned()))
                        .collect();
                    (topic, found)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<(i32, Option<CommittedOffset>)>> =
                    BTreeMap::new();
                for ((topic, p), c) in offsets.into_iter().flatten() {
                    by_topic
                        .entry(topic.clone())
                        .or_default()
                        .push((*p, Some(c.clone())));
                }
                for partitions in by_topic.values_mut() {
                    partitions.sort_by_key(|(p, _)| *p);
                }
                by_topic.into_iter().collect()
            }
        }
    }

    /// (group id, protocol type, state) of every group.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        let groups = self.groups();
        let mut all: Vec<_> = groups
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state.name(),
                )
            })
            .collect();
        all.sort();
        all
    }

    pub fn describe(&self, group_id: &str) -> Description {
        let groups = self.groups();
        let Some(group) = groups.get(group_id) else {
            return Description {
                state: "Dead",
                ..Description::default()
            };
        };
        let protocol = group.protocol.clone().unwrap_or_default();
        let settled = matches!(group.state, State::Stable);
        Description {
            state: group.state.name(),
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            members: group
                .members
                .values()
                .map(|m| {
                    let metadata = m
                        .protocols
                        .iter()
                        .find(|(n, _)| *n == protocol)
                        .map(|(_, b)| b.clone());
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        metadata.unwrap_or_default(),
                        if settled {
                            m.assignment.clone()
                        } else {
                            Bytes::new()
                        },
                    )
                })
                .collect(),
        }
    }

    /// Deletes empty groups and their offsets.
    pub fn delete_groups(&self, topics: &Topics, ids: &[String]) -> (Vec<i16>, Vec<DurableWrite>) {
        let mut codes = Vec::new();
        let mut writes = Vec::new();
        let mut groups = self.groups();
        for id in ids {
            match groups.get(id) {
                None => codes.push(ResponseError::GroupIdNotFound.code()),
                Some(g) if !g.is_empty() || g.state != State::Empty => {
                    codes.push(ResponseError::NonEmptyGroup.code())
                }
                Some(g) => {
                    let mut records: Vec<(Bytes, Option<Bytes>)> = g
                        .offsets
                        .keys()
                        .map(|(t, p)| (store::offset_key(id, t, *p), None))
                        .collect();
                    records.push((store::group_key(id), None));
                    writes.push(self.write(topics, id, records));
                    groups.remove(id);
                    codes.push(0);
                }
            }
        }
        (codes, writes)
    }

    /// Deletes committed offsets of partitions the group no longer consumes.
    pub fn delete_offsets(
        &self,
        topics: &Topics,
        group_id: &str,
        wanted: &[(String, Vec<i32>)],
    ) -> Result<(Vec<Vec<i16>>, DurableWrite), i16> {
        let mut groups = self.groups();
        let group = groups
            .get_mut(group_id)
            .ok_or(ResponseError::GroupIdNotFound.code())?;
        let subscribed = group.subscribed_topics();
        let active = group.state != State::Empty;
        let mut records = Vec::new();
        let codes = wanted
            .iter()
            .map(|(topic, partitions)| {
                partitions
                    .iter()
                    .map(|p| {
                        if active && subscribed.contains(topic) {
                            ResponseError::GroupSubscribedToTopic.code()
                        } else if topics.get(topic).and_then(|t| t.partition(*p)).is_none() {
                            ResponseError::UnknownTopicOrPartition.code()
                        } else {
                            if group.offsets.remove(&(topic.clone(), *p)).is_some() {
                                records.push((store::offset_key(group_id, topic, *p), None));
                            }
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        let write = if records.is_empty() {
            None
        } else {
            self.write(topics, group_id, records)
        };
        Ok((codes, write))
    }

    /// Expires sessions and ends overdue rebalance phases. Called every 100 ms.
    pub fn tick(&self, topics: &Topics) {
        let now = Instant::now();
        let mut groups = self.groups();
        let mut emptied = Vec::new();
        for group in groups.values_mut() {
            let was_empty = group.state == State::Empty;
            if group.expire(now, self.settings.initial_delay)
                && group.state == State::Empty
                && !was_empty
            {
                emptied.push((group.id.clone(), group.stored()));
            }
        }
        for (id, stored) in emptied {
            let record = (store::group_key(&id), Some(store::group_value(&stored)));
            let _ = self.write(topics, &id, vec![record]);
        }
    }

    /// Appends records to the group's partition of `__consumer_offsets`.
    fn write(
        &self,
        topics: &Topics,
        group_id: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> DurableWrite {
        let result = (|| -> io::Result<(Arc<Partition>, i64)> {
            let topic = topics
                .get(OFFSETS_TOPIC)
                .ok_or_else(|| io::Error::other("__consumer_offsets is missing"))?;
            let index = store::partition_for(group_id, topic.partition_count());
            let partition = topic
                .partition(index)
                .ok_or_else(|| io::Error::other("no such partition"))?;
            let now = now_ms();
            let keyed: Vec<_> = records
                .iter()
                .map(|(k, v)| (Some(k.clone()), v.clone()))
                .collect();
            let batch = batch::encode_keyed(&keyed, now, Compression::None)?;
            let header = BatchHeader::parse(&batch).map_err(io::Error::other)?;
            let end = {
                let mut log = partition.log();
                log.append(&header, &batch, &topic.settings().policy, now)
                    .map_err(io::Error::other)?;
                log.log_end_offset()
            };
            partition.note_appended(records.len() as u64);
            topics.appended.notify_waiters();
            Ok((partition, end))
        })();
        match result {
            Ok(write) => Some(write),
            Err(error) => {
                tracing::error!(group = group_id, %error, "could not write to __consumer_offsets");
                None
            }
        }
    }
}

fn new_member_id(client_id: &str) -> String {
    format!("{client_id}-{}", uuid::Uuid::new_v4())
}
