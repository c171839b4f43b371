//! How many client connections the broker keeps, and which give way: `max.connections` in all
//! (never more than the process's open-file limit leaves room for), `max.connections.per.ip`
//! from one address. When the broker is full, a new client takes the place of the connection
//! that has been silent the longest (one that never sent a request first), if any has been
//! silent for a while; otherwise it is turned away at once rather than left waiting. Idle
//! connections close after `connections.max.idle.ms` (see `connection.rs`). Refusals are logged
//! once a minute, with a count, not once per connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::log::segment::now_ms;

/// A connection silent for less than this is never closed to make room.
const EVICTABLE_AFTER_MS: i64 = 1000;

/// Open files the broker keeps for itself (logs, indexes, the runtime) when it sizes the number
/// of connections against the process's limit: per partition, and in all.
const FILES_PER_PARTITION: u64 = 2;
const FILES_RESERVED: u64 = 256;

/// What a connection shares with the table: when it last sent a request, and how many.
#[derive(Debug, Default)]
pub struct Activity {
    last_ms: AtomicI64,
    requests: AtomicU64,
}

impl Activity {
    /// Called for each request the connection sends.
    pub fn touch(&self) {
        self.last_ms.store(now_ms(), Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

struct Entry {
    ip: IpAddr,
    activity: Arc<Activity>,
    close: CancellationToken,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Entry>,
    per_ip: HashMap<IpAddr, usize>,
    refused: u64,
    evicted: u64,
    last_report: Option<Instant>,
}

impl Table {
    fn remove(&mut self, id: u64) {
        if let Some(entry) = self.open.remove(&id) {
            if let Some(count) = self.per_ip.get_mut(&entry.ip) {
                *count -= 1;
                if *count == 0 {
                    self.per_ip.remove(&entry.ip);
                }
            }
        }
    }
}

pub struct Connections {
    table: Mutex<Table>,
    max_per_ip: usize,
    max: usize,
}

/// Why a new connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("address {ip} already has the configured maximum of {max} connections (max.connections.per.ip)")]
    PerIp { ip: IpAddr, max: usize },
    #[error("the broker has its maximum of {max} connections and none has been idle long enough to close")]
    Full { max: usize },
}

/// A connection's place in the table, given back when dropped.
pub struct Admitted {
    pub activity: Arc<Activity>,
    /// Cancelled when the connection is closed to make room for another.
    pub close: CancellationToken,
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.table().remove(self.id);
    }
}

impl Connections {
    /// `max` connections at most (lowered to what `open_files` leaves room for once
    /// `partitions` are open), `max_per_ip` from one address.
    pub fn new(max: usize, max_per_ip: usize, open_files: Option<u64>, partitions: usize) -> Self {
        let room = open_files.map_or(u64::MAX, |limit| {
            limit.saturating_sub(FILES_RESERVED + FILES_PER_PARTITION * partitions as u64)
        });
        let max = max.min(room.max(16) as usize);
        Self {
            table: Mutex::new(Table::default()),
            max_per_ip,
            max,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for a connection from `ip`, closing the longest-silent connection when the
    /// broker is full.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let mut table = self.table();
        let refused = if table.per_ip.get(&ip).copied().unwrap_or(0) >= self.max_per_ip {
            Some(Refused::PerIp {
                ip,
                max: self.max_per_ip,
            })
        } else if table.open.len() >= self.max {
            let now = now_ms();
            // Never-used connections first, then the longest silent.
            let victim = table
                .open
                .iter()
                .filter(|(_, e)| {
                    now - e.activity.last_ms.load(Ordering::Relaxed) >= EVICTABLE_AFTER_MS
                })
                .min_by_key(|(_, e)| {
                    (
                        e.activity.requests.load(Ordering::Relaxed) > 0,
                        e.activity.last_ms.load(Ordering::Relaxed),
                    )
                })
                .map(|(id, _)| *id);
            match victim {
                Some(id) => {
                    if let Some(entry) = table.open.get(&id) {
                        entry.close.cancel();
                    }
                    table.remove(id);
                    table.evicted += 1;
                    None
                }
                None => Some(Refused::Full { max: self.max }),
            }
        } else {
            None
        };
        if let Some(refused) = refused {
            table.refused += 1;
            Self::report(&mut table, Some(&refused));
            return Err(refused);
        }
        Self::report(&mut table, None);
        let id = table.next_id;
        table.next_id += 1;
        let activity = Arc::new(Activity::default());
        activity.last_ms.store(now_ms(), Ordering::Relaxed);
        let close = CancellationToken::new();
        table.open.insert(
            id,
            Entry {
                ip,
                activity: Arc::clone(&activity),
                close: close.clone(),
            },
        );
        *table.per_ip.entry(ip).or_default() += 1;
        Ok(Admitted {
            activity,
            close,
            id,
            connections: Arc::clone(self),
        })
    }

    /// Logs refusals and evictions at most once a minute.
    fn report(table: &mut Table, latest: Option<&Refused>) {
        if table.refused == 0 && table.evicted == 0 {
            return;
        }
        if table
            .last_report
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        match latest {
            Some(cause) => tracing::warn!(
                refused = table.refused,
                closed_idle = table.evicted,
                "refusing client connections: {cause}"
            ),
            None => tracing::warn!(
                closed_idle = table.evicted,
                open = table.open.len(),
                "at the connection limit: closed the longest-idle connections to admit new ones"
            ),
        }
        table.refused = 0;
        table.evicted = 0;
        table.last_report = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn per_ip_and_total_limits_refuse_and_places_come_back() {
        let table = Arc::new(Connections::new(3, 2, None, 0));
        let a1 = table.admit(ip(1)).expect("first");
        let _a2 = table.admit(ip(1)).expect("second");
        assert_eq!(
            table.admit(ip(1)).err(),
            Some(Refused::PerIp { ip: ip(1), max: 2 })
        );
        let b1 = table.admit(ip(2)).expect("another address");
        // Full, and everyone active just now: a new one is refused at once.
        b1.activity.touch();
        a1.activity.touch();
        assert_eq!(table.admit(ip(3)).err(), Some(Refused::Full { max: 3 }));
        drop(a1);
        assert!(
            table.admit(ip(3)).is_ok(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn a_full_broker_closes_the_connection_silent_longest_never_used_first() {
        let table = Arc::new(Connections::new(2, 10, None, 0));
        let used = table.admit(ip(1)).expect("used");
        let silent = table.admit(ip(2)).expect("silent");
        // Both silent for two seconds; one sent a request before that.
        used.activity.requests.store(1, Ordering::Relaxed);
        for c in [&used, &silent] {
            c.activity.last_ms.store(now_ms() - 2000, Ordering::Relaxed);
        }
        let newcomer = table.admit(ip(3)).expect("room made");
        assert!(silent.close.is_cancelled(), "the never-used one goes first");
        assert!(!used.close.is_cancelled());
        drop(newcomer);
    }

    #[test]
    fn the_limit_leaves_room_for_the_logs_open_files() {
        assert_eq!(
            Connections::new(10_000, 10, Some(1024), 100).max(),
            1024 - 256 - 200
        );
        assert_eq!(Connections::new(50, 10, Some(1024), 0).max(), 50);
    }
}
