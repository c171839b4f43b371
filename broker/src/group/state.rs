//! One consumer group under Kafka's classic protocol: members, generations and the rebalance
//! state machine (Empty → PreparingRebalance → CompletingRebalance → Stable). Pure state: no I/O;
//! waiting members are answered through oneshot channels.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::store::{CommittedOffset, StoredGroup, StoredMember};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance => "PreparingRebalance",
            State::CompletingRebalance => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// What a JoinGroup request is answered with.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// For the leader only: every member's id, instance id and metadata for the chosen protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(error: ResponseError, member_id: &str) -> Self {
        Self {
            error: error.code(),
            generation: -1,
            member_id: member_id.to_string(),
            ..Self::default()
        }
    }
}

/// What a SyncGroup request is answered with: an error code and the member's assignment.
pub type SyncResult = (i16, Bytes);

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub last_heartbeat: Instant,
    pub join_waiter: Option<oneshot::Sender<JoinResult>>,
    pub sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: State,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, and when they expire.
    pub pending: HashMap<String, Instant>,
    pub static_members: HashMap<String, String>,
    /// When the current rebalance phase gives up on members that have not rejoined or synced.
    pub deadline: Option<Instant>,
    /// A new group waits this long for more members before its first rebalance.
    pub initial_delay_until: Option<Instant>,
    pub offsets: HashMap<(String, i32), CommittedOffset>,
    pub state_timestamp: i64,
}

impl Group {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            static_members: HashMap::new(),
            deadline: None,
            initial_delay_until: None,
            offsets: HashMap::new(),
            state_timestamp: -1,
        }
    }

    /// A group read back from `__consumer_offsets`: its generation and protocol, no live members
    /// (they rejoin, as after a coordinator move in Kafka).
    pub fn restore(id: &str, stored: &StoredGroup) -> Self {
        let mut group = Self::new(id);
        group.generation = stored.generation;
        group.protocol_type =
            (!stored.protocol_type.is_empty()).then(|| stored.protocol_type.clone());
        group.state_timestamp = stored.state_timestamp;
        group
    }

    /// Whether `instance_id` belongs to a different, newer member (static membership fencing).
    pub fn fences(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        instance_id.is_some_and(|i| self.static_members.get(i).is_some_and(|m| m != member_id))
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending.is_empty()
    }

    /// Whether every protocol offered by `protocols` can work with the current members.
    pub fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// Starts (or continues) a rebalance.
    pub fn prepare_rebalance(&mut self, now: Instant, initial_delay: Duration) {
        if self.state == State::PreparingRebalance {
            return;
        }
        // Anyone waiting for an assignment of the old generation must rejoin.
        for member in self.members.values_mut() {
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send((ResponseError::RebalanceInProgress.code(), Bytes::new()));
            }
        }
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::from_secs(60));
        if self.state == State::Empty && !initial_delay.is_zero() {
            self.initial_delay_until = Some(now + initial_delay.min(timeout));
        }
        self.state = State::PreparingRebalance;
        self.deadline = Some(now + timeout);
    }

    /// Whether the join phase can finish: every member has rejoined and no handed-out member id
    /// is still expected.
    pub fn all_joined(&self, now: Instant) -> bool {
        self.state == State::PreparingRebalance
            && self.members.values().all(|m| m.join_waiter.is_some())
            && self.pending.is_empty()
            && self.initial_delay_until.is_none_or(|until| now >= until)
    }

    /// Ends the join phase: members that did not rejoin are dropped, a new generation starts, and
    /// every waiting member gets its JoinGroup response.
    pub fn complete_join(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.pending.clear();
        self.initial_delay_until = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            self.deadline = None;
            return;
        }
        self.protocol = self.choose_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = State::CompletingRebalance;
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.deadline = Some(now + timeout);
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let roster: Vec<(String, Option<String>, Bytes)> = self
            .members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect();
        for member in self.members.values_mut() {
            member.last_heartbeat = now;
            let result = JoinResult {
                error: 0,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol: Some(protocol.clone()),
                leader: leader.clone(),
                member_id: member.id.clone(),
                members: if member.id == leader {
                    roster.clone()
                } else {
                    Vec::new()
                },
            };
            if let Some(waiter) = member.join_waiter.take() {
                let _ = waiter.send(result);
            }
        }
    }

    /// Each member votes for the first of its protocols that every member supports; the most
    /// votes win, ties going to the protocol listed first.
    fn choose_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .collect();
        let mut votes: Vec<(usize, &String)> = candidates.iter().map(|c| (0, *c)).collect();
        for member in self.members.values() {
            if let Some((name, _)) = member
                .protocols
                .iter()
                .find(|(n, _)| candidates.contains(&n))
            {
                if let Some(vote) = votes.iter_mut().find(|(_, c)| *c == name) {
                    vote.0 += 1;
                }
            }
        }
        votes
            .iter()
            .enumerate()
            .max_by_key(|(i, (count, _))| (*count, usize::MAX - i))
            .map(|(_, (_, name))| (*name).clone())
    }

    /// Stores the leader's assignment and moves to Stable, answering every waiting SyncGroup.
    pub fn complete_sync(&mut self, assignments: HashMap<String, Bytes>) {
        for member in self.members.values_mut() {
            member.assignment = assignments.get(&member.id).cloned().unwrap_or_default();
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send((0, member.assignment.clone()));
            }
        }
        self.state = State::Stable;
        self.deadline = None;
    }

    pub fn remove_member(&mut self, id: &str) {
        if let Some(member) = self.members.remove(id) {
            if let Some(instance) = &member.instance_id {
                if self.static_members.get(instance).is_some_and(|m| m == id) {
                    self.static_members.remove(instance);
                }
            }
            if let Some(waiter) = member.join_waiter {
                let _ = waiter.send(JoinResult::error(ResponseError::UnknownMemberId, id));
            }
            if let Some(waiter) = member.sync_waiter {
                let _ = waiter.send((ResponseError::UnknownMemberId.code(), Bytes::new()));
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
    }

    /// Drops members whose session expired and, if any went, starts a rebalance. Also ends a
    /// rebalance phase whose deadline passed. Returns whether the group changed.
    pub fn expire(&mut self, now: Instant, initial_delay: Duration) -> bool {
        let mut changed = false;
        self.pending.retain(|_, expires| *expires > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.join_waiter.is_none() && now.duration_since(m.last_heartbeat) > m.session_timeout
            })
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            tracing::info!(group = %self.id, member = %id, "member's session expired");
            self.remove_member(id);
            changed = true;
        }
        if changed && self.state != State::PreparingRebalance {
            if self.members.is_empty() {
                self.to_empty();
            } else {
                self.prepare_rebalance(now, initial_delay);
            }
        }
        let overdue = self.deadline.is_some_and(|d| now >= d);
        match self.state {
            State::PreparingRebalance if overdue || self.all_joined(now) => {
                self.complete_join(now);
                changed = true;
            }
            State::CompletingRebalance if overdue => {
                // The leader never sent its assignment: drop who did not sync, and start over.
                let silent: Vec<String> = self
                    .members
                    .values()
                    .filter(|m| m.sync_waiter.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                for id in silent {
                    self.remove_member(&id);
                }
                self.state = State::Stable;
                if self.members.is_empty() {
                    self.to_empty();
                } else {
                    self.prepare_rebalance(now, Duration::ZERO);
                }
                changed = true;
            }
            _ => {}
        }
        changed
    }

    pub fn to_empty(&mut self) {
        self.state = State::Empty;
        self.generation += 1;
        self.protocol = None;
        self.leader = None;
        self.deadline = None;
    }

    /// The group as persisted after a rebalance.
    pub fn stored(&self) -> StoredGroup {
        let protocol = self.protocol.clone().unwrap_or_default();
        StoredGroup {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            state_timestamp: self.state_timestamp,
            members: self
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as i32,
                    session_timeout_ms: m.session_timeout.as_millis() as i32,
                    subscription: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// Topics the members subscribe to, read from consumer-protocol metadata.
    pub fn subscribed_topics(&self) -> HashSet<String> {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::Decodable;
        let mut topics = HashSet::new();
        if self.protocol_type.as_deref() != Some("consumer") {
            return topics;
        }
        let protocol = self.protocol.clone().unwrap_or_default();
        for member in self.members.values() {
            let mut metadata = member.metadata_for(&protocol);
            if metadata.len() < 2 {
                continue;
            }
            let version = i16::from_be_bytes([metadata[0], metadata[1]]);
            bytes::Buf::advance(&mut metadata, 2);
            if let Ok(sub) =
                ConsumerProtocolSubscription::decode(&mut metadata, version.clamp(0, 3))
            {
                topics.extend(sub.topics.iter().map(|t| t.to_string()));
            }
        }
        topics
    }
}
