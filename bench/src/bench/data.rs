//! The generated data set of `casebook bench-search`: models made by varying
//! the demo models, tickets and journal entries written like the ones the
//! ticket page sees, and alert-like triage queries. Everything comes from
//! per-item random streams of one seed, so an item is the same whatever
//! order or batch it is generated in (a `--skip-load` run regenerates the
//! queries without reading the data back).

use casebook::commands::models::{DEMO_MODELS, strip_links};
use casebook::domain::model::{self as text, ModelText, Status};

/// A small reproducible generator (splitmix64 seeding, xorshift64* steps).
pub struct Rng(u64);

impl Rng {
    /// The stream of item `index` of kind `stream` under `seed`.
    pub fn stream(seed: u64, stream: u64, index: u64) -> Self {
        let mut z = seed
            .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(z | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    fn hex(&mut self, len: usize) -> String {
        let mut out = format!("{:016x}", self.next_u64());
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }
}

#[rustfmt::skip]
const SERVICES: &[&str] = &[
    "billing", "payments", "checkout", "search", "auth", "identity", "gateway", "ingest",
    "reporting", "catalog", "inventory", "shipping", "notifications", "mail", "ledger",
    "analytics", "export", "import", "profile", "session", "media", "thumbnails", "pricing",
    "orders", "cart", "recommendations", "fraud", "onboarding", "support", "chat", "webhooks",
    "scheduler", "batch", "etl", "warehouse", "metrics", "logging", "tracing", "alerting", "geo",
];
#[rustfmt::skip]
const COMPONENTS: &[&str] = &[
    "api", "worker", "frontend", "backend", "proxy", "cache", "queue", "consumer", "producer",
    "cron", "replica", "primary", "shard", "cluster", "node", "pod", "daemon", "sidecar",
    "balancer", "router", "indexer", "broker", "bucket", "volume", "vault", "registry", "runner",
    "agent", "collector", "exporter",
];
#[rustfmt::skip]
const ENVIRONMENTS: &[&str] = &[
    "prod", "staging", "canary", "eu-west", "us-east", "ap-south", "dr", "edge", "lab", "preprod",
];
#[rustfmt::skip]
const TECHNOLOGIES: &[&str] = &[
    "postgres", "mysql", "redis", "kafka", "rabbitmq", "nginx", "haproxy", "envoy", "kubernetes",
    "etcd", "consul", "elasticsearch", "clickhouse", "cassandra", "mongodb", "memcached",
    "zookeeper", "minio", "ceph", "prometheus", "grafana", "java", "golang", "python", "nodejs",
    "ruby", "php", "dotnet", "rust", "systemd",
];
#[rustfmt::skip]
const SYMPTOMS: &[&str] = &[
    "timeouts", "latency", "errors", "5xx", "spikes", "drops", "stalls", "flapping", "saturation",
    "backlog", "throttling", "retries", "leaks", "restarts", "evictions", "degradation",
    "unreachable", "slowness", "hangs", "failures",
];
const OPENERS: &[&str] = &[
    "",
    "Hi team,",
    "Customer reports:",
    "Paging on-call:",
    "Since this morning",
    "Seen again tonight.",
    "Monitoring fired:",
    "Escalated from the NOC:",
];
const REPLIES: &[&str] = &[
    "Looking into it; the {svc} {comp} shows {sym}.",
    "Restarted the {comp} on {host}, watching the graphs.",
    "Customer confirms the {sym} stopped after the change.",
    "Following the run-book; step 2 shows {tech} {sym} on {host}.",
    "No {sym} in the last hour, lowering the priority.",
    "Could not reproduce from {env}; asking for a request id.",
    "Rolled back the last {svc} deploy, {sym} gone.",
    "Handing over to the {svc} team, they own the {comp}.",
];
const LEVELS: &[&str] = &["ERROR", "WARN", "FATAL", "error", "warning"];

/// The demo model a generated one is made from.
pub struct Base {
    pub model: ModelText,
    /// The alert name an alerting rule would give it (`DbReplicationLag`).
    pub alert: String,
    title_words: Vec<String>,
    statement_words: Vec<String>,
    sentences: Vec<String>,
}

pub fn bases() -> Vec<Base> {
    DEMO_MODELS
        .iter()
        .filter_map(|(_, t)| text::parse(t).ok())
        .map(|model| {
            let alert = model
                .key
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect();
            let words = |s: &str, min: usize| -> Vec<String> {
                s.split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() >= min)
                    .map(str::to_lowercase)
                    .collect()
            };
            Base {
                alert,
                title_words: words(&model.title, 2),
                statement_words: words(&model.statement, 4),
                sentences: model
                    .statement
                    .split(". ")
                    .map(|s| s.trim().trim_end_matches('.').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
                model,
            }
        })
        .collect()
}

/// What makes a generated model differ from its base: indexes into the
/// word lists, so a spec is a few bytes and can be kept for every model.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    pub base: u16,
    svc: u16,
    comp: u16,
    env: u16,
    tech: u16,
    symptoms: [u16; 2],
}

pub fn model_spec(seed: u64, n: usize, bases: usize) -> ModelSpec {
    let mut rng = Rng::stream(seed, 1, n as u64);
    ModelSpec {
        base: rng.below(bases) as u16,
        svc: rng.below(SERVICES.len()) as u16,
        comp: rng.below(COMPONENTS.len()) as u16,
        env: rng.below(ENVIRONMENTS.len()) as u16,
        tech: rng.below(TECHNOLOGIES.len()) as u16,
        symptoms: [
            rng.below(SYMPTOMS.len()) as u16,
            rng.below(SYMPTOMS.len()) as u16,
        ],
    }
}

impl ModelSpec {
    fn svc(&self) -> &'static str {
        SERVICES[self.svc as usize]
    }
    fn comp(&self) -> &'static str {
        COMPONENTS[self.comp as usize]
    }
    fn env(&self) -> &'static str {
        ENVIRONMENTS[self.env as usize]
    }
    fn tech(&self) -> &'static str {
        TECHNOLOGIES[self.tech as usize]
    }
    fn symptom(&self, i: usize) -> &'static str {
        SYMPTOMS[self.symptoms[i] as usize]
    }
}

/// The key of generated model `n` (1-based, as its id).
pub fn model_key(n: usize, spec: &ModelSpec) -> String {
    format!("bench-{n:06}-{}-{}", spec.svc(), spec.comp())
}

/// Generated model `n` (1-based): its base with its own service, component,
/// environment and technology in the title, statement, steps and
/// discussion; some steps dropped; mostly published, a few drafts and
/// retired ones.
pub fn model(seed: u64, n: usize, spec: &ModelSpec, bases: &[Base]) -> ModelText {
    let base = &bases[spec.base as usize];
    let mut rng = Rng::stream(seed, 5, n as u64);
    let (svc, comp, env, tech) = (spec.svc(), spec.comp(), spec.env(), spec.tech());
    let mut steps: Vec<String> = base
        .model
        .steps
        .iter()
        .filter(|_| rng.chance(0.85))
        .map(|s| strip_links(s))
        .collect();
    if steps.is_empty() {
        steps.push(strip_links(&base.model.steps[0]));
    }
    if rng.chance(0.5) {
        steps.push(format!(
            "Check the {svc} {comp} dashboard in {env} for {}.",
            spec.symptom(0)
        ));
    }
    let discussion = if rng.chance(0.2) {
        String::new()
    } else {
        format!(
            "{}\n\nThe {svc} team owns the {comp}; {tech} {} there usually {} the same way.",
            strip_links(&base.model.discussion),
            spec.symptom(1),
            rng.pick(&["start", "show up", "end", "recur"]),
        )
    };
    let mut tags = base.model.tags.clone();
    if !tags.iter().any(|t| t == svc) {
        tags.push(svc.to_owned());
    }
    let roll = rng.below(100);
    ModelText {
        title: format!("{}: {svc} {comp} on {tech} ({env})", base.model.title),
        key: model_key(n, spec),
        category: base.model.category.clone(),
        tags,
        alerts: Vec::new(),
        status: match roll {
            0..90 => Status::Published,
            90..97 => Status::Draft,
            _ => Status::Retired,
        },
        public: base.model.public && rng.chance(0.5),
        statement: format!(
            "{} Applies to the {svc} {comp} running {tech} in {env}; it usually shows as {} and {}.",
            base.model.statement,
            spec.symptom(0),
            spec.symptom(1),
        ),
        steps,
        discussion,
    }
}

pub struct TicketRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    /// Index into the organizations (and their customers); `None` for an
    /// internal ticket raised by the engineer.
    pub org: Option<usize>,
    pub priority: i16,
    pub category: String,
    pub assigned: bool,
    pub status: &'static str,
    /// The model (1-based id) the ticket was written from: the one a
    /// triager links it to.
    pub model: i64,
}

pub struct EntryRow {
    pub ticket: i64,
    pub public: bool,
    pub body: String,
}

fn cut(s: String, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s;
    }
    s.chars()
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Ticket `id` (1-based) and its journal entries (0 to 3), about a random
/// model: an alert title or a person's summary, a description made of the
/// model's statement with words dropped and operational noise (hosts, ids,
/// a log line).
pub fn ticket(
    seed: u64,
    id: i64,
    specs: &[ModelSpec],
    bases: &[Base],
    orgs: usize,
) -> (TicketRow, Vec<EntryRow>) {
    let mut rng = Rng::stream(seed, 2, id as u64);
    let model = rng.below(specs.len());
    let spec = specs[model];
    let base = &bases[spec.base as usize];
    let (svc, comp, env, tech) = (spec.svc(), spec.comp(), spec.env(), spec.tech());
    let host = format!("{svc}-{comp}-{}.{env}.example.net", rng.below(40));
    let title = match rng.below(10) {
        0..4 => format!(
            "[FIRING:{}] {} {svc}-{comp} {env}",
            1 + rng.below(5),
            base.alert
        ),
        4..8 => {
            let mut words: Vec<&str> = base
                .title_words
                .iter()
                .filter(|_| rng.chance(0.7))
                .map(String::as_str)
                .collect();
            if words.is_empty() {
                words.push(&base.title_words[0]);
            }
            format!("{svc} {comp}: {}", words.join(" "))
        }
        _ => format!("{} on {host}", base.model.title),
    };
    let mut description = String::new();
    let opener = rng.pick(OPENERS);
    if !opener.is_empty() {
        description.push_str(opener);
        description.push(' ');
    }
    for _ in 0..1 + rng.below(2) {
        let sentence = &base.sentences[rng.below(base.sentences.len())];
        let kept: Vec<&str> = sentence.split(' ').filter(|_| rng.chance(0.9)).collect();
        description.push_str(&kept.join(" "));
        description.push_str(". ");
    }
    description.push_str(&format!(
        "Host {host}, trace {}, first seen {:02}:{:02} UTC.",
        rng.hex(16),
        rng.below(24),
        rng.below(60)
    ));
    if rng.chance(0.5) {
        description.push_str(&format!(
            "\n\n    {} {tech}: {} after {} ms (request {})",
            rng.pick(LEVELS),
            spec.symptom(rng.below(2)),
            1 + rng.below(30_000),
            rng.hex(8)
        ));
    }
    let org = rng.chance(0.7).then(|| rng.below(orgs.max(1)));
    let status = match rng.below(100) {
        0..10 => "new",
        10..20 => "triaged",
        20..30 => "in_progress",
        30..35 => "waiting_on_customer",
        35..65 => "resolved",
        _ => "closed",
    };
    let row = TicketRow {
        id,
        title: cut(title, 200),
        description,
        org,
        priority: 1 + rng.below(4) as i16,
        category: base.model.category.clone(),
        assigned: status != "new" && rng.chance(0.8),
        status,
        model: model as i64 + 1,
    };
    let entries = (0..rng.below(4))
        .map(|_| {
            let body = rng
                .pick(REPLIES)
                .replace("{svc}", svc)
                .replace("{comp}", comp)
                .replace("{env}", env)
                .replace("{tech}", tech)
                .replace("{host}", &host)
                .replace("{sym}", spec.symptom(rng.below(2)));
            EntryRow {
                ticket: id,
                public: rng.chance(0.5),
                body,
            }
        })
        .collect();
    (row, entries)
}

/// A triage query and the model it was written from.
pub struct Query {
    pub text: String,
    pub source: String,
}

/// Query `n` of stream `stream` (measured queries and warm-up queries are
/// separate streams): an alert about a random model, the way Alertmanager
/// words it: a status marker, the alert name, labels with generated ids, and
/// words of the model's title and statement (shuffled, some dropped) with
/// its service, component, technology and environment.
pub fn query(seed: u64, stream: u64, n: usize, specs: &[ModelSpec], bases: &[Base]) -> Query {
    let mut rng = Rng::stream(seed, stream, n as u64);
    let m = rng.below(specs.len());
    let spec = specs[m];
    let base = &bases[spec.base as usize];
    let (svc, comp, env, tech) = (spec.svc(), spec.comp(), spec.env(), spec.tech());
    let mut words: Vec<&str> = base.title_words.iter().map(String::as_str).collect();
    for _ in 0..4 + rng.below(5) {
        words.push(&base.statement_words[rng.below(base.statement_words.len())]);
    }
    words.extend([svc, comp, tech, env]);
    rng.shuffle(&mut words);
    let mut kept: Vec<&str> = words.iter().copied().filter(|_| rng.chance(0.7)).collect();
    if kept.len() < 3 {
        kept = words.iter().copied().take(3).collect();
    }
    let severity = rng.pick(&["warning", "critical", "page"]);
    let pod = format!("{svc}-{comp}-{}-{}", rng.hex(10), rng.hex(5));
    let instance = format!("{svc}-{comp}-{}:{}", rng.below(40), 9000 + rng.below(1000));
    let text = match rng.below(3) {
        0 => format!(
            "[FIRING:{}] {} (namespace={svc} severity={severity} instance={instance} pod={pod}) {}",
            1 + rng.below(5),
            base.alert,
            kept.join(" ")
        ),
        1 => format!(
            "[FIRING:1] {} {env}\nsummary: {}\nlabels: alertname={} service={svc} severity={severity} pod={pod}",
            base.alert,
            kept.join(" "),
            base.alert
        ),
        _ => format!(
            "{} firing on {instance} ({env}): {}",
            base.alert,
            kept.join(" ")
        ),
    };
    Query {
        text,
        source: model_key(m + 1, &spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_do_not_depend_on_generation_order() {
        let bases = bases();
        assert_eq!(bases.len(), DEMO_MODELS.len());
        let specs: Vec<ModelSpec> = (1..=50).map(|n| model_spec(7, n, bases.len())).collect();
        let a = ticket(7, 42, &specs, &bases, 5);
        let _ = ticket(7, 41, &specs, &bases, 5);
        let b = ticket(7, 42, &specs, &bases, 5);
        assert_eq!(a.0.title, b.0.title);
        assert_eq!(a.0.description, b.0.description);
        assert_eq!(a.1.len(), b.1.len());
        let q1 = query(7, 3, 9, &specs, &bases);
        let q2 = query(7, 3, 9, &specs, &bases);
        assert_eq!(q1.text, q2.text);
        assert_ne!(q1.text, query(8, 3, 9, &specs, &bases).text);
    }

    #[test]
    fn generated_models_are_valid_and_round_trip() {
        let bases = bases();
        for n in 1..=200 {
            let spec = model_spec(3, n, bases.len());
            let model = model(3, n, &spec, &bases);
            assert!(text::validate(&model).is_ok(), "{n}: {model:?}");
            assert_eq!(text::parse(&text::render(&model)).as_ref(), Ok(&model));
        }
    }

    #[test]
    fn tickets_fit_the_schema() {
        let bases = bases();
        let specs: Vec<ModelSpec> = (1..=100).map(|n| model_spec(1, n, bases.len())).collect();
        for id in 1..=2000 {
            let (t, entries) = ticket(1, id, &specs, &bases, 10);
            let chars = t.title.trim().chars().count();
            assert!((1..=200).contains(&chars), "{}", t.title);
            assert!((1..=4).contains(&t.priority));
            assert!(entries.len() <= 3);
        }
    }
}
