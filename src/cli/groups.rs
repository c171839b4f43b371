//! `sluice groups`: like kafka-consumer-groups. Lists, describes (with LAG), resets offsets of,
//! and deletes consumer groups.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::Decodable;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::groups::GroupInfo;
use rdkafka::{Offset, TopicPartitionList};

use super::{client_config, DEFAULT_BOOTSTRAP, TIMEOUT};

#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[arg(long, global = true, default_value = DEFAULT_BOOTSTRAP)]
    bootstrap_server: String,
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// List group ids.
    List,
    /// Members, assignments, and per partition the committed offset, log end offset and LAG.
    Describe { group: String },
    /// Move a group's committed offsets. A dry run unless --execute; refused while the group has
    /// active members.
    ResetOffsets {
        group: String,
        #[arg(long)]
        topic: String,
        #[arg(long, group = "target")]
        to_earliest: bool,
        #[arg(long, group = "target")]
        to_latest: bool,
        #[arg(long, group = "target")]
        to_offset: Option<i64>,
        #[arg(long, group = "target", allow_hyphen_values = true)]
        shift_by: Option<i64>,
        /// `YYYY-MM-DDTHH:mm:SS[.sss]` in UTC, or milliseconds since the epoch.
        #[arg(long, group = "target")]
        to_datetime: Option<String>,
        #[arg(long)]
        execute: bool,
    },
    /// Delete an inactive group and its committed offsets.
    Delete { group: String },
}

pub async fn run(args: GroupsArgs) -> Result<()> {
    let bootstrap = args.bootstrap_server;
    match args.command {
        GroupsCommand::List => {
            let consumer: BaseConsumer = client_config(&bootstrap, &[], "")?.create()?;
            let list = consumer
                .fetch_group_list(None, TIMEOUT)
                .context("listing groups")?;
            let mut names: Vec<&str> = list.groups().iter().map(GroupInfo::name).collect();
            names.sort_unstable();
            for name in names {
                println!("{name}");
            }
        }
        GroupsCommand::Describe { group } => describe(&bootstrap, &group)?,
        GroupsCommand::ResetOffsets {
            group,
            topic,
            to_earliest,
            to_latest,
            to_offset,
            shift_by,
            to_datetime,
            execute,
        } => {
            let target = match (to_earliest, to_latest, to_offset, shift_by, to_datetime) {
                (true, ..) => Target::Earliest,
                (_, true, ..) => Target::Latest,
                (_, _, Some(n), ..) => Target::Offset(n),
                (_, _, _, Some(n), _) => Target::Shift(n),
                (_, _, _, _, Some(d)) => Target::Time(parse_datetime(&d)?),
                _ => bail!("choose one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime"),
            };
            reset(&bootstrap, &group, &topic, target, execute)?;
        }
        GroupsCommand::Delete { group } => {
            let admin: AdminClient<DefaultClientContext> =
                client_config(&bootstrap, &[], "")?.create()?;
            let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
            for result in admin.delete_groups(&[&group], &opts).await? {
                match result {
                    Ok(_) => println!(
                        "Deletion of requested consumer groups ('{group}') was successful."
                    ),
                    Err((_, code)) => bail!("Deletion of group '{group}' failed: {code}"),
                }
            }
        }
    }
    Ok(())
}

/// A member as DescribeGroups reports it, with its assignment decoded.
struct Member {
    id: String,
    host: String,
    client: String,
    partitions: Vec<(String, i32)>,
}

/// One line of `describe`: a partition's committed offset and its owner, if any.
#[derive(Default)]
struct Row {
    offset: Option<i64>,
    owner: Option<(String, String, String)>,
}

fn group_info(consumer: &BaseConsumer, group: &str) -> Result<(String, Vec<Member>)> {
    let list = consumer
        .fetch_group_list(Some(group), TIMEOUT)
        .context("describing the group")?;
    let Some(info) = list.groups().first() else {
        bail!("Consumer group '{group}' does not exist.");
    };
    let members = info
        .members()
        .iter()
        .map(|m| Member {
            id: m.id().to_string(),
            host: m.client_host().to_string(),
            client: m.client_id().to_string(),
            partitions: m.assignment().map(decode_assignment).unwrap_or_default(),
        })
        .collect();
    Ok((info.state().to_string(), members))
}

fn decode_assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    if bytes.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let mut body = bytes::Bytes::copy_from_slice(&bytes[2..]);
    match ConsumerProtocolAssignment::decode(&mut body, version.clamp(0, 3)) {
        Ok(a) => a
            .assigned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.topic.0.to_string(), *p))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every partition of every non-internal topic, with the group's committed offset where it has one.
fn committed(consumer: &BaseConsumer) -> Result<BTreeMap<(String, i32), i64>> {
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .context("fetching metadata")?;
    let mut tpl = TopicPartitionList::new();
    for topic in metadata
        .topics()
        .iter()
        .filter(|t| !t.name().starts_with("__"))
    {
        for p in topic.partitions() {
            tpl.add_partition(topic.name(), p.id());
        }
    }
    let found = consumer
        .committed_offsets(tpl, TIMEOUT)
        .context("fetching committed offsets")?;
    Ok(found
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

fn describe(bootstrap: &str, group: &str) -> Result<()> {
    let consumer: BaseConsumer = client_config(bootstrap, &[], "")?
        .set("group.id", group)
        .create()?;
    let (state, members) = group_info(&consumer, group)?;
    let mut rows: BTreeMap<(String, i32), Row> = BTreeMap::new();
    for (partition, offset) in committed(&consumer)? {
        rows.entry(partition).or_default().offset = Some(offset);
    }
    for m in &members {
        for (topic, partition) in &m.partitions {
            let row = rows.entry((topic.clone(), *partition)).or_default();
            row.owner = Some((m.id.clone(), m.host.clone(), m.client.clone()));
        }
    }
    println!(
        "Consumer group '{group}' is {state} with {} member(s).",
        members.len()
    );
    println!();
    println!(
        "{:<20} {:<20} {:>9} {:>15} {:>15} {:>8} {:<40} {:<16} CLIENT-ID",
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST"
    );
    for ((topic, partition), row) in rows {
        let (member, host, client) = row
            .owner
            .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
        let offset = row.offset;
        let (_, end) = consumer
            .fetch_watermarks(&topic, partition, TIMEOUT)
            .context("fetching the log end")?;
        let (current, lag) = match offset {
            Some(o) => (o.to_string(), (end - o).max(0).to_string()),
            None => ("-".to_string(), "-".to_string()),
        };
        println!("{group:<20} {topic:<20} {partition:>9} {current:>15} {end:>15} {lag:>8} {member:<40} {host:<16} {client}");
    }
    Ok(())
}

enum Target {
    Earliest,
    Latest,
    Offset(i64),
    Shift(i64),
    Time(i64),
}

fn reset(bootstrap: &str, group: &str, topic: &str, target: Target, execute: bool) -> Result<()> {
    let consumer: BaseConsumer = client_config(bootstrap, &[], "")?
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    if let Ok((state, members)) = group_info(&consumer, group) {
        if !members.is_empty() {
            bail!("Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}.");
        }
    }
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .context("fetching metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        bail!("Topic '{topic}' does not exist.");
    }
    let current = committed(&consumer)?;
    let mut plan = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, TIMEOUT)?;
        let wanted = match target {
            Target::Earliest => low,
            Target::Latest => high,
            Target::Offset(n) => n,
            Target::Shift(n) => current.get(&(topic.to_string(), p)).copied().unwrap_or(low) + n,
            Target::Time(ts) => {
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(topic, p, Offset::Offset(ts))?;
                match consumer
                    .offsets_for_times(tpl, TIMEOUT)?
                    .find_partition(topic, p)
                    .map(|e| e.offset())
                {
                    Some(Offset::Offset(o)) => o,
                    _ => high,
                }
            }
        };
        plan.add_partition_offset(topic, p, Offset::Offset(wanted.clamp(low, high)))?;
    }
    println!(
        "{:<20} {:<20} {:>9} {:>11}",
        "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
    );
    for e in plan.elements() {
        if let Offset::Offset(o) = e.offset() {
            println!("{group:<20} {topic:<20} {:>9} {o:>11}", e.partition());
        }
    }
    if execute {
        consumer
            .commit(&plan, CommitMode::Sync)
            .context("committing the new offsets")?;
    } else {
        println!("\nDry run: nothing changed. Add --execute to apply.");
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:mm:SS[.sss]` (UTC) or epoch milliseconds.
fn parse_datetime(text: &str) -> Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || {
        anyhow::anyhow!(
            "--to-datetime '{text}': expected YYYY-MM-DDTHH:mm:SS[.sss] or epoch milliseconds"
        )
    };
    let (date, time) = text.trim_end_matches('Z').split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let (hms, millis) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [year, month, day] = d[..] else {
        return Err(bad());
    };
    let [hour, minute, second] = t[..] else {
        return Err(bad());
    };
    let millis: i64 = format!("{millis:0<3}")[..3].parse().map_err(|_| bad())?;
    let days = sluice_connect_api::calendar::days_from_civil(year, month, day);
    Ok(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes_parse_as_utc() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00").expect("epoch"), 0);
        assert_eq!(
            parse_datetime("2024-02-29T12:30:15.250").expect("leap day"),
            1_709_209_815_250
        );
        assert_eq!(
            parse_datetime("1700000000000").expect("millis"),
            1_700_000_000_000
        );
        assert!(parse_datetime("yesterday").is_err());
    }
}
