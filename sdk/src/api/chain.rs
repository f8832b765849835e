//! Several plugins in one: [`Chain`] runs its members as Envoy runs separate
//! filters, and is itself a [`Plugin`], so every adapter runs it unchanged.
//!
//! `Chain<A, B>` has two members; `Chain<A, Chain<B, C>>` three, and so on.
//! Each member keeps its own plugin, filter state, callouts, timers and
//! metrics: a member's `Stream` and `Root` are projections of the chain's,
//! whose services wrap every closure the member registers so that it
//! reaches only that member's filter and plugin, and whose verdict the chain
//! applies to the members after it (see [`ChainFilter`]).

use super::action::{Action, Verdict};
use super::env::Env;
use super::filter::{HttpFilter, Plugin};
use super::root::{Root, TimerId};
use super::services::{
    Pending, RootServices, RootThen, RootTimer, StreamServices, StreamThen, StreamTimer,
};
use super::stream::{Phase, PhaseInfo, Stream};
use crate::config::{self, join_path, ConfigError};
use crate::host::Host;
use serde::Deserialize;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::time::Duration;

/// Two plugins run as two consecutive filters of one stream: `A` first on
/// the request path, `B` first on the response path. Nest it for more
/// members (`Chain<A, Chain<B, C>>`); nesting changes nothing, since a chain
/// behaves as its members would as separate filters.
///
/// Configured from `{"filters": [{"name": "a", "config": {...}}, ...]}`:
/// each `config` is the member's own configuration, parsed by its own
/// `Config` type; errors name the path (`filters[1].config.max_tokens`).
/// Members may be left out, but those listed must come in the chain's
/// order, once each (see [`Member`]).
pub struct Chain<A, B> {
    first: Option<A>,
    second: Option<B>,
}

impl<A, B> Chain<A, B> {
    /// The first member's plugin, if the configuration lists it.
    pub fn first(&self) -> Option<&A> {
        self.first.as_ref()
    }

    /// The second member's plugin, if the configuration lists it.
    pub fn second(&self) -> Option<&B> {
        self.second.as_ref()
    }
}

/// A plugin that can be named in a [`Chain`]'s `filters` list. Implement it
/// for a filter with [`crate::member!`] (`portico::member!(MyPlugin, "my")`);
/// a chain implements it for its members.
pub trait Member: Plugin {
    /// Appends the names of the filters this member is made of, in order.
    fn names(out: &mut Vec<&'static str>);

    /// Configures this member from the entries at the front of `entries`
    /// that name it (taking them); `None` when the list does not name it.
    fn configure_entries(
        entries: &mut Entries,
        root: &mut Root<'_, Self>,
    ) -> Result<Option<Self>, ConfigError>;
}

/// The configuration of a [`Chain`]: the `filters` list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    filters: Vec<EntryConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryConfig {
    name: String,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// The entries of a chain's `filters` list not configured yet, checked
/// against the chain's names.
pub struct Entries {
    list: VecDeque<Entry>,
}

struct Entry {
    index: usize,
    name: String,
    config: Option<serde_json::Value>,
}

impl Entries {
    /// Checks the list against `names` (the chain's members, in order):
    /// every name known, each once, in that order; at least one.
    fn check(config: ChainConfig, names: &[&'static str]) -> Result<Entries, ConfigError> {
        if config.filters.is_empty() {
            return Err(ConfigError::at(
                "filters",
                format!("lists no filter; this module runs {}", names.join(", ")),
            ));
        }
        let mut last: Option<(usize, &str)> = None;
        let mut list = VecDeque::new();
        for (index, entry) in config.filters.into_iter().enumerate() {
            let path = format!("filters[{index}].name");
            let Some(position) = names.iter().position(|n| *n == entry.name) else {
                return Err(ConfigError::at(
                    path,
                    format!(
                        "unknown filter `{}`; this module runs {}",
                        entry.name,
                        names.join(", ")
                    ),
                ));
            };
            if let Some((before, before_name)) = last {
                if position == before {
                    return Err(ConfigError::at(
                        path,
                        format!("`{}` is listed twice", entry.name),
                    ));
                }
                if position < before {
                    return Err(ConfigError::at(
                        path,
                        format!(
                            "`{}` must come before `{before_name}`: this module runs its filters in the order {}",
                            entry.name,
                            names.join(", ")
                        ),
                    ));
                }
            }
            last = names.get(position).map(|n| (position, *n));
            list.push_back(Entry {
                index,
                name: entry.name,
                config: entry.config,
            });
        }
        Ok(Entries { list })
    }
}

/// Configures a single filter `P` as the member `name` of a chain: takes
/// the next entry if it names `name`, parses its `config` as `P::Config`
/// and runs `P::configure`, with errors under `filters[i].config`. What
/// [`crate::member!`] expands to.
pub fn configure_member<P: Plugin>(
    entries: &mut Entries,
    name: &str,
    root: &mut Root<'_, P>,
) -> Result<Option<P>, ConfigError> {
    if entries.list.front().is_none_or(|e| e.name != name) {
        return Ok(None);
    }
    let Some(entry) = entries.list.pop_front() else {
        return Ok(None);
    };
    let prefix = format!("filters[{}].config", entry.index);
    let bytes = match &entry.config {
        Some(value) => serde_json::to_vec(value).map_err(|e| ConfigError::at(&*prefix, e))?,
        None => Vec::new(),
    };
    let under = |err: ConfigError| {
        ConfigError::at(join_path(&prefix, &err.path), strip_position(&err.message))
    };
    let parsed = config::parse::<P::Config>(&bytes).map_err(under)?;
    P::configure(parsed, root).map(Some).map_err(under)
}

/// A member's config is re-read from the chain's document: serde_json's
/// `(line 1, column 58)` would point into that copy, not the user's file.
fn strip_position(message: &str) -> String {
    match message.rfind(" (line ") {
        Some(cut) if message.ends_with(')') => message.get(..cut).unwrap_or(message).to_string(),
        _ => message.to_string(),
    }
}

/// Implements [`chain::Member`](crate::chain::Member) for a single filter's
/// plugin under `name`, so it can be a member of a [`crate::chain::Chain`]:
/// `portico::member!(RateLimiter, "ratelimit");`.
#[macro_export]
macro_rules! member {
    ($plugin:ty, $name:expr) => {
        impl $crate::chain::Member for $plugin {
            fn names(out: &mut ::std::vec::Vec<&'static str>) {
                out.push($name);
            }

            fn configure_entries(
                entries: &mut $crate::chain::Entries,
                root: &mut $crate::Root<'_, Self>,
            ) -> ::std::result::Result<::std::option::Option<Self>, $crate::ConfigError> {
                $crate::chain::configure_member(entries, $name, root)
            }
        }
    };
}

impl<A: Member, B: Member> Member for Chain<A, B> {
    fn names(out: &mut Vec<&'static str>) {
        A::names(out);
        B::names(out);
    }

    fn configure_entries(
        entries: &mut Entries,
        root: &mut Root<'_, Self>,
    ) -> Result<Option<Self>, ConfigError> {
        let first = with_root::<A, B, First, _>(root, |r| A::configure_entries(entries, r))?;
        let second = with_root::<A, B, Second, _>(root, |r| B::configure_entries(entries, r))?;
        if first.is_none() && second.is_none() {
            return Ok(None);
        }
        Ok(Some(Chain { first, second }))
    }
}

impl<A: Member, B: Member> Plugin for Chain<A, B> {
    type Config = ChainConfig;
    type Filter = ChainFilter<A, B>;

    fn configure(config: ChainConfig, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        let mut names = Vec::new();
        Self::names(&mut names);
        let mut entries = Entries::check(config, &names)?;
        let chain = Self::configure_entries(&mut entries, root)?;
        if let Some(left) = entries.list.front() {
            // `check` keeps the order, so every entry is taken; defensive.
            return Err(ConfigError::at(
                format!("filters[{}].name", left.index),
                format!("`{}` was not configured", left.name),
            ));
        }
        chain.ok_or_else(|| ConfigError::at("filters", "lists no filter"))
    }

    fn new_filter(&self, env: &Env<'_>) -> ChainFilter<A, B> {
        ChainFilter {
            first: self.first.as_ref().map(|p| p.new_filter(env)),
            second: self.second.as_ref().map(|p| p.new_filter(env)),
            progress: Progress::default(),
        }
    }
}

/// The per-request half of a [`Chain`]: both members' filters and where the
/// stream stands between them.
///
/// The rules are Envoy's for consecutive filters:
/// - request phases run `A` then `B`, response phases `B` then `A`;
/// - a member's `Pause` holds the members after it; when that member's
///   callback (callout reply, timer, wake-up) returns `Continue`, the
///   members after it run the held phase, and the stream resumes once the
///   last one continued;
/// - a member's local reply stops the members after it; before the
///   upstream's response, the reply passes through the response phases of
///   that member and those before it (as a wasm filter's does), not of the
///   members after it, which never saw the request; from a response phase
///   it goes straight to the client;
/// - a member that buffers a body (`Pause` in a body phase) holds the
///   members after it; with the next chunk the members before it see only
///   the bytes new to them, the buffering member all of them;
/// - `on_done` runs for the members that saw the request headers;
/// - a member's callback verdict acts on the chain only where that member
///   holds it: another member's `Continue` resumes nothing.
pub struct ChainFilter<A: Plugin, B: Plugin> {
    first: Option<A::Filter>,
    second: Option<B::Filter>,
    progress: Progress,
}

impl<A: Plugin, B: Plugin> ChainFilter<A, B> {
    /// The first member's filter, if the chain has that member.
    pub fn first(&self) -> Option<&A::Filter> {
        self.first.as_ref()
    }

    /// The second member's filter.
    pub fn second(&self) -> Option<&B::Filter> {
        self.second.as_ref()
    }
}

#[derive(Default)]
struct Progress {
    /// Members whose `on_request_headers` ran.
    started: [bool; 2],
    /// The member holding the stream, and the phase the members after it wait to run.
    waiting: Option<Waiting>,
    /// The member whose local reply the stream carries.
    replier: Option<usize>,
    /// Per direction (request, response): the member that buffered a body
    /// and the buffer's size then. The members before it saw those bytes.
    held: [Option<Held>; 2],
}

#[derive(Clone, Copy)]
struct Held {
    member: usize,
    size: usize,
}

#[derive(Clone, Copy)]
struct Waiting {
    member: usize,
    phase: Phase,
    end_of_stream: bool,
    body_size: usize,
}

/// Which member a projection reaches.
trait Side<A: Plugin, B: Plugin>: 'static {
    const INDEX: usize;
    type M: Plugin;
    fn plugin(chain: &Chain<A, B>) -> Option<&Self::M>;
    fn filter(filter: &mut ChainFilter<A, B>) -> Option<&mut <Self::M as Plugin>::Filter>;
}

struct First;
struct Second;

impl<A: Plugin, B: Plugin> Side<A, B> for First {
    const INDEX: usize = 0;
    type M = A;
    fn plugin(chain: &Chain<A, B>) -> Option<&A> {
        chain.first.as_ref()
    }
    fn filter(filter: &mut ChainFilter<A, B>) -> Option<&mut A::Filter> {
        filter.first.as_mut()
    }
}

impl<A: Plugin, B: Plugin> Side<A, B> for Second {
    const INDEX: usize = 1;
    type M = B;
    fn plugin(chain: &Chain<A, B>) -> Option<&B> {
        chain.second.as_ref()
    }
    fn filter(filter: &mut ChainFilter<A, B>) -> Option<&mut B::Filter> {
        filter.second.as_mut()
    }
}

type MemberFilter<A, B, S> = <<S as Side<A, B>>::M as Plugin>::Filter;
type MemberPlugin<A, B, S> = <S as Side<A, B>>::M;
type PhaseFn<F> = fn(&mut F, &<F as HttpFilter>::Plugin, &mut Stream<'_, F>) -> Verdict;

fn method<F: HttpFilter>(phase: Phase) -> Option<PhaseFn<F>> {
    Some(match phase {
        Phase::RequestHeaders => F::on_request_headers,
        Phase::RequestBody => F::on_request_body,
        Phase::RequestTrailers => F::on_request_trailers,
        Phase::ResponseHeaders => F::on_response_headers,
        Phase::ResponseBody => F::on_response_body,
        Phase::ResponseTrailers => F::on_response_trailers,
        Phase::Callback | Phase::Done => return None,
    })
}

fn is_request(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::RequestHeaders | Phase::RequestBody | Phase::RequestTrailers
    )
}

/// The member's view of the chain's root: the chain's services, with every
/// closure wrapped to reach the member's plugin.
struct RootProjection<'a, A: Plugin, B: Plugin, S> {
    outer: &'a dyn RootServices<Chain<A, B>>,
    side: PhantomData<S>,
}

fn with_root<A, B, S, R>(
    root: &mut Root<'_, Chain<A, B>>,
    f: impl FnOnce(&mut Root<'_, S::M>) -> R,
) -> R
where
    A: Member,
    B: Member,
    S: Side<A, B>,
{
    let projection = RootProjection::<A, B, S> {
        outer: root.services(),
        side: PhantomData,
    };
    f(&mut Root::new(*root.env(), &projection))
}

impl<A: Member, B: Member, S: Side<A, B>> RootServices<S::M> for RootProjection<'_, A, B, S> {
    fn add_timer(
        &self,
        host: &dyn Host,
        after: Duration,
        period: Option<Duration>,
        f: RootTimer<S::M>,
    ) -> TimerId {
        let wrapped: RootTimer<Chain<A, B>> = match f {
            RootTimer::Once(f) => RootTimer::Once(Box::new(move |chain, root| {
                if let Some(plugin) = S::plugin(chain) {
                    with_root::<A, B, S, _>(root, |r| f(plugin, r));
                }
            })),
            RootTimer::Every(mut f) => RootTimer::Every(Box::new(move |chain, root| {
                if let Some(plugin) = S::plugin(chain) {
                    with_root::<A, B, S, _>(root, |r| f(plugin, r));
                }
            })),
        };
        self.outer.add_timer(host, after, period, wrapped)
    }

    fn cancel_timer(&self, host: &dyn Host, id: TimerId) {
        self.outer.cancel_timer(host, id);
    }

    fn add_root_call(&self, token: u32, call: Pending<RootThen<S::M>>) {
        let then = call.then;
        self.outer.add_root_call(
            token,
            Pending {
                limit: call.limit,
                kind: call.kind,
                then: Box::new(move |chain, root, reply| {
                    if let Some(plugin) = S::plugin(chain) {
                        with_root::<A, B, S, _>(root, |r| then(plugin, r, reply));
                    }
                }),
            },
        );
    }

    fn wake_from_root(
        &self,
        host: &dyn Host,
        stream: u32,
        f: StreamTimer<MemberFilter<A, B, S>>,
    ) -> bool {
        self.outer.wake_from_root(
            host,
            stream,
            Box::new(move |filter, chain, s| member_callback::<A, B, S>(filter, chain, s, f)),
        )
    }
}

/// The member's view of the chain's stream services.
struct StreamProjection<'a, A: Plugin, B: Plugin, S> {
    outer: &'a dyn StreamServices<ChainFilter<A, B>>,
    side: PhantomData<S>,
}

impl<A: Member, B: Member, S: Side<A, B>> StreamServices<MemberFilter<A, B, S>>
    for StreamProjection<'_, A, B, S>
{
    fn add_stream_call(
        &self,
        stream: u32,
        token: u32,
        call: Pending<StreamThen<MemberFilter<A, B, S>>>,
    ) {
        let then = call.then;
        self.outer.add_stream_call(
            stream,
            token,
            Pending {
                limit: call.limit,
                kind: call.kind,
                then: Box::new(move |filter, chain, s, reply| {
                    member_callback::<A, B, S>(
                        filter,
                        chain,
                        s,
                        Box::new(move |f, p, s| then(f, p, s, reply)),
                    )
                }),
            },
        );
    }

    fn add_stream_timer(
        &self,
        host: &dyn Host,
        stream: u32,
        after: Duration,
        f: StreamTimer<MemberFilter<A, B, S>>,
    ) -> TimerId {
        self.outer.add_stream_timer(
            host,
            stream,
            after,
            Box::new(move |filter, chain, s| member_callback::<A, B, S>(filter, chain, s, f)),
        )
    }

    fn cancel_timer(&self, host: &dyn Host, id: TimerId) {
        self.outer.cancel_timer(host, id);
    }

    fn wake(
        &self,
        host: &dyn Host,
        target: u32,
        current: u32,
        f: StreamTimer<MemberFilter<A, B, S>>,
    ) -> bool {
        self.outer.wake(
            host,
            target,
            current,
            Box::new(move |filter, chain, s| member_callback::<A, B, S>(filter, chain, s, f)),
        )
    }
}

/// Runs `run` on member `S` with a projection of `s`; `None` when the chain
/// lacks that member. `body` carries the body's size from member to member.
fn run_member<A, B, S>(
    filter: &mut ChainFilter<A, B>,
    chain: &Chain<A, B>,
    s: &Stream<'_, ChainFilter<A, B>>,
    info: PhaseInfo,
    body_start: usize,
    body: &mut usize,
    run: impl FnOnce(
        &mut MemberFilter<A, B, S>,
        &MemberPlugin<A, B, S>,
        &mut Stream<'_, MemberFilter<A, B, S>>,
    ) -> Verdict,
) -> Option<Verdict>
where
    A: Member,
    B: Member,
    S: Side<A, B>,
{
    let plugin = S::plugin(chain)?;
    let member = S::filter(filter)?;
    let projection = StreamProjection::<A, B, S> {
        outer: s.services(),
        side: PhantomData,
    };
    let mut ms = Stream::new(*s.env(), s.id().0, &projection, info).with_body_start(body_start);
    let verdict = run(member, plugin, &mut ms);
    *body = ms.body_total();
    // The chain's own stream follows its members' edits, so a chain inside
    // a chain reports the body as its members left it.
    s.set_body_total(*body);
    Some(verdict)
}

/// A callback of member `S` (callout reply, timer, wake-up) reached the
/// chain's stream: runs it, and applies its verdict to the chain.
fn member_callback<A, B, S>(
    filter: &mut ChainFilter<A, B>,
    chain: &Chain<A, B>,
    s: &mut Stream<'_, ChainFilter<A, B>>,
    run: StreamTimer<MemberFilter<A, B, S>>,
) -> Verdict
where
    A: Member,
    B: Member,
    S: Side<A, B>,
{
    let info = PhaseInfo {
        phase: Phase::Callback,
        end_of_stream: false,
        body_size: 0,
        responded: filter.progress.replier == Some(S::INDEX),
    };
    let mut body = 0;
    let Some(verdict) = run_member::<A, B, S>(filter, chain, s, info, 0, &mut body, run) else {
        return Ok(Action::Pause);
    };
    match verdict {
        Err(response) => {
            if !s.responded_locally() {
                filter.progress.replier = Some(S::INDEX);
                filter.progress.waiting = None;
            }
            Err(response)
        }
        // `Pause` from a callback changes nothing (the engine's rule).
        Ok(Action::Pause) => Ok(Action::Pause),
        Ok(Action::Continue) => match filter.progress.waiting {
            Some(w) if w.member == S::INDEX => {
                filter.progress.waiting = None;
                // The members after this one run the phase it held.
                let from = if is_request(w.phase) {
                    S::INDEX + 1
                } else {
                    2 - S::INDEX
                };
                filter.run_phase(chain, s, w.phase, w.end_of_stream, w.body_size, from, None)
            }
            // This member holds nothing: resuming would release another's hold.
            _ => Ok(Action::Pause),
        },
    }
}

impl<A: Member, B: Member> ChainFilter<A, B> {
    /// Whether member `i` runs `phase`.
    fn takes_part(&self, i: usize, phase: Phase) -> bool {
        let p = &self.progress;
        if is_request(phase) {
            return p.replier.is_none();
        }
        let started = p.started.iter().any(|s| *s);
        let saw_request = !started || p.started.get(i).copied().unwrap_or(false);
        saw_request && p.replier.is_none_or(|r| i <= r)
    }

    /// Runs `phase` on the members from position `from` of the phase's
    /// order (request: first, second; response: second, first). With
    /// `held`, the members before the one that buffered see only the bytes
    /// after those they saw already.
    #[allow(clippy::too_many_arguments)]
    fn run_phase(
        &mut self,
        chain: &Chain<A, B>,
        s: &Stream<'_, Self>,
        phase: Phase,
        end_of_stream: bool,
        mut body: usize,
        from: usize,
        held: Option<Held>,
    ) -> Verdict {
        let order: [usize; 2] = if is_request(phase) { [0, 1] } else { [1, 0] };
        let held_at = held.and_then(|h| order.iter().position(|m| *m == h.member));
        for (position, &i) in order.iter().enumerate().skip(from) {
            if !self.takes_part(i, phase) {
                continue;
            }
            if phase == Phase::RequestHeaders {
                if let Some(started) = self.progress.started.get_mut(i) {
                    *started = true;
                }
            }
            let info = PhaseInfo {
                phase,
                end_of_stream,
                body_size: body,
                responded: self.progress.replier == Some(i),
            };
            // Never before the chain's own view (a chain inside a chain).
            let start = match (held, held_at) {
                (Some(h), Some(at)) if position < at => h.size,
                _ => 0,
            }
            .max(s.body_start());
            let verdict = if i == 0 {
                let m = method::<A::Filter>(phase);
                run_member::<A, B, First>(self, chain, s, info, start, &mut body, |f, p, s| {
                    m.map_or(Ok(Action::Continue), |m| m(f, p, s))
                })
            } else {
                let m = method::<B::Filter>(phase);
                run_member::<A, B, Second>(self, chain, s, info, start, &mut body, |f, p, s| {
                    m.map_or(Ok(Action::Continue), |m| m(f, p, s))
                })
            };
            match verdict {
                None | Some(Ok(Action::Continue)) => {}
                Some(Ok(Action::Pause)) => {
                    self.progress.waiting = Some(Waiting {
                        member: i,
                        phase,
                        end_of_stream,
                        body_size: body,
                    });
                    return Ok(Action::Pause);
                }
                Some(Err(response)) => {
                    if !s.responded_locally() {
                        self.progress.replier = Some(i);
                    }
                    self.progress.waiting = None;
                    return Err(response);
                }
            }
        }
        Ok(Action::Continue)
    }

    fn host_phase(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        // A new call of the host's runs the phase from the first member
        // again, as Envoy hands a new chunk to the first filter: the member
        // that buffered (and those after it) see everything received so
        // far, those before it only the bytes that are new to them.
        self.progress.waiting = None;
        let (phase, end_of_stream, body) = (s.phase(), s.end_of_stream(), s.body_total());
        let body_phase = matches!(phase, Phase::RequestBody | Phase::ResponseBody);
        let direction = usize::from(!is_request(phase));
        let held = if body_phase {
            self.progress.held.get_mut(direction).and_then(Option::take)
        } else {
            None
        };
        let verdict = self.run_phase(chain, s, phase, end_of_stream, body, 0, held);
        if let (true, Ok(Action::Pause), Some(w)) = (body_phase, &verdict, self.progress.waiting) {
            if let Some(slot) = self.progress.held.get_mut(direction) {
                *slot = Some(Held {
                    member: w.member,
                    size: w.body_size,
                });
            }
        }
        verdict
    }
}

impl<A: Member, B: Member> HttpFilter for ChainFilter<A, B> {
    type Plugin = Chain<A, B>;

    fn on_request_headers(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        self.host_phase(chain, s)
    }

    fn on_request_body(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        self.host_phase(chain, s)
    }

    fn on_request_trailers(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        self.host_phase(chain, s)
    }

    fn on_response_headers(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        self.host_phase(chain, s)
    }

    fn on_response_body(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        self.host_phase(chain, s)
    }

    fn on_response_trailers(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        self.host_phase(chain, s)
    }

    /// Members wake their streams through their own projection; a wake of
    /// the chain itself goes to the member holding the stream.
    fn on_wake(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) -> Verdict {
        match self.progress.waiting.map(|w| w.member) {
            Some(0) => {
                member_callback::<A, B, First>(self, chain, s, Box::new(|f, p, s| f.on_wake(p, s)))
            }
            Some(_) => {
                member_callback::<A, B, Second>(self, chain, s, Box::new(|f, p, s| f.on_wake(p, s)))
            }
            None => Ok(Action::Pause),
        }
    }

    fn on_done(&mut self, chain: &Chain<A, B>, s: &mut Stream<'_, Self>) {
        let started = self.progress.started;
        let none_started = !started.iter().any(|s| *s);
        for i in [0, 1] {
            if !(none_started || started.get(i).copied().unwrap_or(false)) {
                continue;
            }
            let info = PhaseInfo {
                phase: Phase::Done,
                end_of_stream: true,
                body_size: 0,
                responded: self.progress.replier == Some(i),
            };
            let mut body = 0;
            if i == 0 {
                run_member::<A, B, First>(self, chain, s, info, 0, &mut body, |f, p, s| {
                    f.on_done(p, s);
                    Ok(Action::Continue)
                });
            } else {
                run_member::<A, B, Second>(self, chain, s, info, 0, &mut body, |f, p, s| {
                    f.on_done(p, s);
                    Ok(Action::Continue)
                });
            }
        }
    }
}
