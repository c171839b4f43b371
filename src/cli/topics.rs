//! `sluice topics`: like kafka-topics.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;

use super::{client_config, DEFAULT_BOOTSTRAP, TIMEOUT};
use crate::properties;

#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// The broker to connect to.
    #[arg(long, global = true, default_value = DEFAULT_BOOTSTRAP)]
    bootstrap_server: String,
    /// Extra client settings, key=value.
    #[arg(long = "command-config", global = true)]
    command_config: Vec<String>,
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// Create a topic.
    Create {
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = -1)]
        partitions: i32,
        #[arg(long = "replication-factor", default_value_t = -1)]
        replication_factor: i32,
        /// A topic config, key=value; repeatable.
        #[arg(long)]
        config: Vec<String>,
        /// Succeed if the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topic names.
    List {
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Describe topics: partitions, leaders, configs.
    Describe {
        #[arg(long)]
        topic: Option<String>,
    },
    /// Delete a topic.
    Delete {
        #[arg(long)]
        topic: String,
    },
    /// Add partitions or change topic configs.
    Alter {
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partitions: Option<usize>,
        /// Set a topic config, key=value; repeatable.
        #[arg(long)]
        config: Vec<String>,
        /// Remove a topic config override; repeatable.
        #[arg(long)]
        delete_config: Vec<String>,
    },
}

pub async fn run(args: TopicsArgs) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(
        &args.bootstrap_server,
        &args.command_config,
        "--command-config",
    )?
    .create()
    .context("creating the admin client")?;
    let opts = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    match args.command {
        TopicsCommand::Create {
            topic,
            partitions,
            replication_factor,
            config,
            if_not_exists,
        } => {
            let configs = properties::parse_overrides(&config, "--config")?;
            let mut new = NewTopic::new(
                &topic,
                partitions,
                TopicReplication::Fixed(replication_factor),
            );
            for (k, v) in &configs {
                new = new.set(k, v);
            }
            for result in admin.create_topics([&new], &opts).await? {
                match result {
                    Ok(name) => println!("Created topic {name}."),
                    Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
                        if if_not_exists => {}
                    Err((name, code)) => bail!("Error while creating topic {name}: {code}"),
                }
            }
        }
        TopicsCommand::List { exclude_internal } => {
            for topic in metadata_topics(&admin, None)? {
                if !(exclude_internal && topic.0.starts_with("__")) {
                    println!("{}", topic.0);
                }
            }
        }
        TopicsCommand::Describe { topic } => {
            for (name, partitions) in metadata_topics(&admin, topic.as_deref())? {
                let overrides = topic_overrides(&admin, &opts, &name).await?;
                let configs: Vec<String> =
                    overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!(
                    "Topic: {name}\tPartitionCount: {}\tReplicationFactor: 1\tConfigs: {}",
                    partitions.len(),
                    configs.join(",")
                );
                for (id, leader) in partitions {
                    println!("\tTopic: {name}\tPartition: {id}\tLeader: {leader}\tReplicas: {leader}\tIsr: {leader}");
                }
            }
        }
        TopicsCommand::Delete { topic } => {
            for result in admin.delete_topics(&[&topic], &opts).await? {
                match result {
                    Ok(name) => println!("Deleted topic {name}."),
                    Err((name, code)) => bail!("Error while deleting topic {name}: {code}"),
                }
            }
        }
        TopicsCommand::Alter {
            topic,
            partitions,
            config,
            delete_config,
        } => {
            if let Some(count) = partitions {
                for result in admin
                    .create_partitions([&NewPartitions::new(&topic, count)], &opts)
                    .await?
                {
                    if let Err((name, code)) = result {
                        bail!("Error while adding partitions to {name}: {code}");
                    }
                }
                println!("Topic {topic} now has {count} partitions.");
            }
            if !config.is_empty() || !delete_config.is_empty() {
                // AlterConfigs replaces the whole set, so start from the current overrides.
                let mut overrides = topic_overrides(&admin, &opts, &topic).await?;
                overrides.extend(properties::parse_overrides(&config, "--config")?);
                for key in &delete_config {
                    overrides.remove(key);
                }
                let mut alter = AlterConfig::new(ResourceSpecifier::Topic(&topic));
                for (k, v) in &overrides {
                    alter = alter.set(k, v);
                }
                for result in admin.alter_configs([&alter], &opts).await? {
                    if let Err((_, code)) = result {
                        bail!("Error while altering configs of {topic}: {code}");
                    }
                }
                println!("Updated configs of topic {topic}.");
            }
        }
    }
    Ok(())
}

type TopicLayout = (String, Vec<(i32, i32)>);

fn metadata_topics(
    admin: &AdminClient<DefaultClientContext>,
    topic: Option<&str>,
) -> Result<Vec<TopicLayout>> {
    let metadata = admin
        .inner()
        .fetch_metadata(topic, TIMEOUT)
        .context("fetching metadata")?;
    let mut topics = Vec::new();
    for t in metadata.topics() {
        if let Some(error) = t.error() {
            bail!(
                "topic {}: {}",
                t.name(),
                rdkafka::types::RDKafkaErrorCode::from(error)
            );
        }
        let partitions = t
            .partitions()
            .iter()
            .map(|p| (p.id(), p.leader()))
            .collect();
        topics.push((t.name().to_string(), partitions));
    }
    topics.sort();
    Ok(topics)
}

async fn topic_overrides(
    admin: &AdminClient<DefaultClientContext>,
    opts: &AdminOptions,
    topic: &str,
) -> Result<BTreeMap<String, String>> {
    let mut overrides = BTreeMap::new();
    for result in admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], opts)
        .await?
    {
        let resource =
            result.map_err(|code| anyhow::anyhow!("describing configs of {topic}: {code}"))?;
        for entry in resource.entries {
            if entry.source == ConfigSource::DynamicTopic {
                overrides.insert(entry.name, entry.value.unwrap_or_default());
            }
        }
    }
    Ok(overrides)
}
