//! The batching writer: one thread per SQLite database file that commits the system's many
//! small writes — engine outputs, run records, events, embeddings — in groups.
//!
//! Why it exists: SQLite has one writer at a time. Before this module each job opened its
//! own transaction from its actor's thread and held the database's write turn while its
//! statements went back and forth between that thread and SQLite's; when the actor's thread
//! was busy with another actor's computation the turn sat idle in its hands. A 20-year
//! backtest held the turn for 70% of its wall time, mostly waiting, in some 2,900 small
//! transactions, each with its own commit.
//!
//! How it works: a store method builds its write as a batch of statements with their
//! arguments already bound ([`SqliteBatch`]; nothing in it borrows the caller's data) and
//! `commit` sends it down a crossbeam channel to the writer's thread, then waits. The thread
//! takes the first batch, the database's in-process write turn, opens one transaction and
//! runs the batch inside a savepoint; then each batch that arrived meanwhile, up to
//! [`MAX_GROUP`], in its own savepoint; then commits once and answers every batch of the
//! group. The statements run back to back on the writer's own connection, which its thread
//! drives itself (`prometheus_sqlite_ext::direct`: no hand-off to a driver's thread per
//! statement), whatever the submitting threads are doing. The runtime database's engine
//! outputs, run records and events and Kronos's decisions go through it, and the historical
//! database's embeddings.
//!
//! The durability promise is the one a transaction per job gave: a caller's `commit`
//! returns `Ok` only after the group holding its rows has committed, so a job is recorded
//! SUCCEEDED only once its rows are in the database. A batch whose statement fails is
//! rolled back to its savepoint alone and answered with its error. If the group's commit
//! fails, or the thread dies before it, every batch of the group gets an error and none of
//! its rows is in the database; the thread starts afresh with the next batch.
//!
//! PostgreSQL needs none of this: it has many concurrent writers and commits groups itself,
//! so there a batch is an ordinary transaction whose statements run as they are added.
//! An in-memory SQLite database (tests) runs the batch in a transaction of its pool.

use super::bulk::{BulkRow, BulkTuning, TableSpec, WriteMode, sqlite_statements};
use super::error::StoreError;
use super::pool::{Pool, SQLITE_PRAGMAS, WAL_AUTOCHECKPOINT};
use super::statement::{Statement, database_error};
use super::tx::{BeginWrite, WriteTx, in_memory, write_turn_on};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use prometheus_sqlite_ext::direct::{Access, DirectConnection};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{ConnectOptions, Connection, Postgres};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OwnedMutexGuard, oneshot};

/// The most batches one group commits: a bound on how long other writers of the process
/// (imports, configs) wait for the write turn behind a busy writer.
pub(crate) const MAX_GROUP: usize = 64;

/// A fault the writer injects into itself, for drills and tests of its promise: it strikes
/// after the statements of a group have run and before the group's `COMMIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterFault {
    /// The process aborts: a crash between enqueue and commit.
    Abort,
    /// The writer's thread panics; the group is lost, its callers get an error and the
    /// writer carries on with the next batch on a fresh connection.
    Panic,
}

/// The runtime database's way to write: through its batching writer on a SQLite file,
/// directly otherwise. Cheap to clone; the writer's thread starts with the first batch and
/// ends when the last clone is dropped or [`Writes::stop`] is called.
#[derive(Clone, Debug, Default)]
pub(crate) struct Writes {
    writer: Option<Arc<SqliteWriter>>,
}

impl Writes {
    /// The writes of a database on `pool`: a batching writer for a SQLite file.
    pub(crate) fn for_pool(pool: &Pool) -> Self {
        let writer = match pool {
            Pool::Sqlite(p) if !in_memory(p.connect_options().get_filename()) => Some(Arc::new(
                SqliteWriter::new(p.connect_options().as_ref().clone()),
            )),
            _ => None,
        };
        Self { writer }
    }

    /// Makes the writer inject `fault` into its `group`-th group (1-based, counted from now).
    /// Returns whether this database has a batching writer to inject it into.
    pub(crate) fn inject(&self, fault: WriterFault, group: u64) -> bool {
        match &self.writer {
            Some(w) => {
                *lock(&w.fault) = Some((fault, group.max(1)));
                true
            }
            None => false,
        }
    }

    /// How many groups the writer has committed (0 without a writer).
    #[cfg(test)]
    fn groups(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(0, |w| w.groups.load(Ordering::Relaxed))
    }

    /// Commits what is queued, then stops the writer's thread; later batches fail as on a
    /// closed pool.
    pub(crate) async fn stop(&self) {
        if let Some(w) = &self.writer {
            w.stop().await;
        }
    }
}

/// Opens a write batch on a pool: [`SqliteBatch`] on SQLite, a transaction on PostgreSQL.
pub(crate) trait BeginBatch<P> {
    /// The batch type of this backend.
    type Batch;
    /// A new, empty batch.
    async fn begin(&self, pool: &P) -> Result<Self::Batch, sqlx::Error>;
}

impl BeginBatch<SqlitePool> for Writes {
    type Batch = SqliteBatch;
    async fn begin(&self, pool: &SqlitePool) -> Result<SqliteBatch, sqlx::Error> {
        let to = match &self.writer {
            Some(w) => Destination::Writer(Arc::clone(w)),
            None => Destination::Pool(pool.clone()),
        };
        Ok(SqliteBatch {
            statements: Vec::new(),
            to,
        })
    }
}

impl BeginBatch<PgPool> for Writes {
    type Batch = WriteTx<Postgres>;
    async fn begin(&self, pool: &PgPool) -> Result<WriteTx<Postgres>, sqlx::Error> {
        pool.begin_write().await
    }
}

/// Where a SQLite batch goes on commit.
enum Destination {
    Writer(Arc<SqliteWriter>),
    Pool(SqlitePool),
}

/// One write of a SQLite database, collected statement by statement and committed as a
/// whole (all or nothing) by [`SqliteBatch::commit`].
pub(crate) struct SqliteBatch {
    statements: Vec<Statement>,
    to: Destination,
}

impl SqliteBatch {
    /// Adds one statement (it runs at commit).
    pub(crate) async fn run(&mut self, statement: Statement) -> Result<(), sqlx::Error> {
        self.statements.push(statement);
        Ok(())
    }

    /// Adds the bulk statements that write `rows` into `spec`'s table; returns how many
    /// rows they write.
    pub(crate) async fn write_rows<R: BulkRow + Sync>(
        &mut self,
        spec: &TableSpec,
        rows: &[R],
        mode: WriteMode,
        tuning: &BulkTuning,
    ) -> Result<u64, StoreError> {
        self.statements.extend(sqlite_statements(
            spec,
            rows,
            mode,
            tuning.sqlite_rows_per_statement,
        )?);
        Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
    }

    /// Runs the batch's statements in one transaction (the writer's group) and returns
    /// once they are committed — or with the error that kept them out.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        if self.statements.is_empty() {
            return Ok(());
        }
        match self.to {
            Destination::Writer(w) => {
                let (statements, started) = (self.statements.len(), std::time::Instant::now());
                let done = w.submit(self.statements).await;
                tracing::debug!(
                    statements,
                    wait_ms = started.elapsed().as_secs_f64() * 1e3,
                    "batch committed"
                );
                done
            }
            Destination::Pool(pool) => {
                let mut tx = pool.begin_write().await?;
                for statement in self.statements {
                    statement.to_sqlite().execute(&mut *tx).await?;
                }
                tx.commit().await
            }
        }
    }
}

/// What goes down the writer's channel.
enum Message {
    Batch(Request),
    Stop(oneshot::Sender<()>),
}

/// One batch and where its answer goes.
struct Request {
    statements: Vec<Statement>,
    done: Answer,
}

/// The writer of one SQLite database file.
struct SqliteWriter {
    options: SqliteConnectOptions,
    /// The channel's sending side, once the thread runs; `None` again after a stop.
    queue: Mutex<Queue>,
    /// The fault to inject and the group it strikes, counted from when it was set.
    fault: Arc<Mutex<Option<(WriterFault, u64)>>>,
    /// How many groups the thread has committed (for tests and logs).
    groups: Arc<AtomicU64>,
}

/// The state of the writer's thread as submitters see it.
enum Queue {
    NotStarted,
    Running(Sender<Message>),
    Stopped,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter")
            .field("file", &self.options.get_filename())
            .finish_non_exhaustive()
    }
}

/// Locks `m`, taking over a lock poisoned by a panicking holder (the data is plain state
/// that stays consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The error of a batch whose writer is gone (stopped, or its thread could not start).
fn writer_stopped(why: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "the database's batching writer {why}; nothing of this write was committed"
    )))
}

impl SqliteWriter {
    fn new(options: SqliteConnectOptions) -> Self {
        Self {
            options,
            queue: Mutex::new(Queue::NotStarted),
            fault: Arc::new(Mutex::new(None)),
            groups: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The channel to the writer's thread, starting the thread on first use.
    fn sender(&self) -> Result<Sender<Message>, sqlx::Error> {
        let mut queue = lock(&self.queue);
        match &*queue {
            Queue::Running(tx) => Ok(tx.clone()),
            Queue::Stopped => Err(writer_stopped("has stopped")),
            Queue::NotStarted => {
                let (tx, rx) = crossbeam_channel::unbounded();
                let options = self.options.clone();
                let fault = Arc::clone(&self.fault);
                let groups = Arc::clone(&self.groups);
                std::thread::Builder::new()
                    .name("pv2-writer".to_owned())
                    .spawn(move || serve(options, rx, fault, groups))
                    .map_err(|e| writer_stopped(&format!("could not start its thread: {e}")))?;
                *queue = Queue::Running(tx.clone());
                Ok(tx)
            }
        }
    }

    /// Sends `statements` to the writer and waits for their group's commit.
    async fn submit(&self, statements: Vec<Statement>) -> Result<(), sqlx::Error> {
        let (done, answer) = oneshot::channel();
        self.sender()?
            .send(Message::Batch(Request { statements, done }))
            .map_err(|_| writer_stopped("has stopped"))?;
        // The answer's sender is dropped unanswered only when the thread died mid-group.
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Lets the thread commit what is queued, then ends it.
    async fn stop(&self) {
        let sender = match std::mem::replace(&mut *lock(&self.queue), Queue::Stopped) {
            Queue::Running(tx) => tx,
            Queue::NotStarted | Queue::Stopped => return,
        };
        let (ack, stopped) = oneshot::channel();
        if sender.send(Message::Stop(ack)).is_ok() {
            // An error means the thread is already gone: nothing left to wait for.
            let _ = stopped.await;
        }
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        // Dropping the last sender ends the thread's `recv` loop once the queue is empty.
        *lock(&self.queue) = Queue::Stopped;
    }
}

/// The writer thread: groups, commits and answers batches until the channel closes or a
/// stop arrives.
fn serve(
    options: SqliteConnectOptions,
    rx: Receiver<Message>,
    fault: Arc<Mutex<Option<(WriterFault, u64)>>>,
    groups: Arc<AtomicU64>,
) {
    let file = options.get_filename().to_path_buf();
    let span = tracing::info_span!("writer", db = %file.display());
    let _entered = span.enter();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "the batching writer has no runtime; every write fails");
            refuse_all(&rx, &format!("has no runtime ({e})"));
            return;
        }
    };
    let nudge = start_checkpointer(options.clone());
    let mut writer = Thread {
        // With a checkpointer, the writer's commits only append to the log.
        pragmas: write_pragmas(if nudge.is_some() {
            "0"
        } else {
            WAL_AUTOCHECKPOINT
        }),
        file,
        conn: None,
        fault,
        groups,
        nudge,
        since_checkpoint: (0, 0),
    };
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        let first = match rx.recv() {
            Ok(Message::Batch(request)) => request,
            Ok(Message::Stop(ack)) => {
                stop = Some(ack);
                break;
            }
            Err(_) => break,
        };
        let group = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(writer.commit_group(first, &rx, &mut stop));
        }));
        if group.is_err() {
            // The group's answer senders and its connection (mid-transaction) were dropped
            // in the unwinding: its callers saw an error, and the next group connects anew.
            tracing::error!("the batching writer's thread panicked; its group was not committed");
        }
    }
    // Batches sent by submitters that took the channel just before the stop.
    while let Ok(message) = rx.try_recv() {
        if let Message::Batch(r) = message {
            let _ = r.done.send(Err(writer_stopped("has stopped")));
        }
    }
    drop(writer.conn.take());
    if let Some(ack) = stop {
        let _ = ack.send(());
    }
}

/// Rows written between two checkpoints: about 10 MB of log (a backtest's rows, with
/// their index pages, take 2–3 KB of log each; a backfill's narrower ones about 1.3 KB).
/// Counted in rows, not groups: a backfill commits ~30 small groups a session, and a
/// checkpoint every 16 of them (2.5 ms each, most of it syncing) took 16% of its time.
const CHECKPOINT_ROWS: u64 = 5_000;

/// Groups between two checkpoints at most, however few rows they wrote (rewrites of the
/// same rows still grow the log).
const CHECKPOINT_GROUPS: u64 = 256;

/// Starts the thread that moves the write-ahead log into the database file: a checkpoint
/// each time the writer nudges it ([`checkpoint_on_nudge`]). SQLite otherwise checkpoints
/// inside the commit that crosses `wal_autocheckpoint`, and that commit — 60 to 90 ms of
/// copying and syncing in a backtest — held up every batch queued behind it. The thread
/// ends when the writer drops its sender.
fn start_checkpointer(options: SqliteConnectOptions) -> Option<Sender<()>> {
    let (nudge, nudged) = crossbeam_channel::bounded::<()>(1);
    let started = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| {
            std::thread::Builder::new()
                .name("pv2-checkpoint".to_owned())
                .spawn(move || {
                    if let Some(start) = CHECKPOINTER_START.get() {
                        start();
                    }
                    checkpoint_on_nudge(&runtime, &options, &nudged)
                })
        });
    match started {
        Ok(_) => Some(nudge),
        Err(e) => {
            tracing::warn!(error = %e, "no checkpointer thread; the writer's commits checkpoint");
            None
        }
    }
}

/// How long a checkpoint waits for readers of older snapshots before it gives up (until the
/// next nudge), in milliseconds. The writer waits for it meanwhile.
const RESTART_WAIT_MS: &str = "200";

/// The checkpointer's loop, until the writer hangs up: per nudge, a passive checkpoint —
/// the bulk of the copying, waiting for nobody — then a restarting one.
///
/// Why the second: the log only starts again from its beginning when a writer finds it
/// wholly copied and no reader in it, and the writer commits again before a checkpoint on
/// another thread is through, while the store's reads keep coming. With passive
/// checkpoints alone the log grew without end (9.4 GB in the 30-year backfill). A
/// `RESTART` checkpoint takes the write turn, copies what was committed since the passive
/// one, waits up to [`RESTART_WAIT`] for readers of older snapshots, and leaves the log to
/// be written from its start by the next commit.
fn checkpoint_on_nudge(
    runtime: &tokio::runtime::Runtime,
    options: &SqliteConnectOptions,
    nudged: &Receiver<()>,
) {
    let options = checkpointer_options(options);
    let mut conn = None;
    while nudged.recv().is_ok() {
        runtime.block_on(async {
            if conn.is_none() {
                conn = options.connect().await.ok();
            }
            let Some(c) = conn.as_mut() else { return };
            // A passive checkpoint copies; the restarting one after it copies what was
            // committed meanwhile and waits for readers of older snapshots. (Restarting only
            // after a passive one that copied everything left the log growing on a loaded
            // machine: the writer test below failed in CI.) A busy checkpoint is no error:
            // the next nudge tries again.
            let mut done = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut *c)
                .await;
            if done.is_ok() {
                done = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                    .execute(&mut *c)
                    .await;
            }
            if let Err(e) = done {
                tracing::warn!(error = %e, "checkpoint failed; the next one retries");
                conn = None;
            }
        });
    }
    if let Some(c) = conn {
        let _ = runtime.block_on(c.close());
    }
}

/// The checkpointer's connection settings: the writer's, but waiting at most
/// [`RESTART_WAIT_MS`] for readers (it replaces the busy timeout of `SQLITE_PRAGMAS`).
fn checkpointer_options(options: &SqliteConnectOptions) -> SqliteConnectOptions {
    options.clone().pragma("busy_timeout", RESTART_WAIT_MS)
}

/// What the checkpointer's thread runs first, before it opens its connection (whose
/// worker thread inherits what it sets), if the binary said (see [`on_checkpointer_start`]).
static CHECKPOINTER_START: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Has every checkpointer thread run `start` first: the binary keeps its hand-off threads
/// on one CPU, and a checkpoint — milliseconds of copying that nobody waits for — belongs
/// on the others. Only the first call counts.
pub fn on_checkpointer_start(start: fn()) {
    let _ = CHECKPOINTER_START.set(start);
}

/// Answers every batch that will ever arrive with an error (a writer that cannot run).
fn refuse_all(rx: &Receiver<Message>, why: &str) {
    while let Ok(message) = rx.recv() {
        match message {
            Message::Batch(r) => {
                let _ = r.done.send(Err(writer_stopped(why)));
            }
            Message::Stop(ack) => {
                let _ = ack.send(());
                return;
            }
        }
    }
}

/// The writer thread's state.
struct Thread {
    /// The settings of the writer's connection ([`write_pragmas`]).
    pragmas: Vec<(&'static str, &'static str)>,
    file: PathBuf,
    /// The writer's own connection, driven by its thread (no hand-off per statement).
    conn: Option<DirectConnection>,
    fault: Arc<Mutex<Option<(WriterFault, u64)>>>,
    groups: Arc<AtomicU64>,
    /// Wakes the checkpointer (`None` if its thread could not start).
    nudge: Option<Sender<()>>,
    /// Rows and groups committed since the checkpointer was last woken.
    since_checkpoint: (u64, u64),
}

/// How running one batch inside the group went.
enum BatchOutcome {
    /// Its statements ran, changing this many rows; it commits with the group.
    Ran(u64),
    /// A statement failed and the batch was rolled back to its savepoint.
    Failed(sqlx::Error),
    /// A statement failed and so did the rollback: the group cannot be trusted.
    Broken(sqlx::Error),
}

impl Thread {
    /// Commits `first` and the batches that queue up behind it as one group.
    async fn commit_group(
        &mut self,
        first: Request,
        rx: &Receiver<Message>,
        stop: &mut Option<oneshot::Sender<()>>,
    ) {
        let (gate, mut conn) = match self.begin().await {
            Ok(open) => open,
            Err(e) => {
                let _ = first.done.send(Err(e));
                return;
            }
        };
        let mut ran: Vec<Answer> = Vec::new();
        let (mut batches, mut written) = (0, 0u64);
        let mut next = Some(first);
        while let Some(request) = next.take() {
            batches += 1;
            // The group's first batch (or the first after failed ones) is alone in the
            // transaction: it needs no savepoint of its own.
            let alone = ran.is_empty();
            match run_batch(&mut conn, request.statements, alone) {
                BatchOutcome::Ran(rows) => {
                    written += rows;
                    ran.push(request.done);
                }
                BatchOutcome::Failed(e) => {
                    let _ = request.done.send(Err(e));
                }
                BatchOutcome::Broken(e) => {
                    let why = e.to_string();
                    let _ = request.done.send(Err(e));
                    abandon(conn, ran, &why);
                    return;
                }
            }
            if batches < MAX_GROUP && stop.is_none() {
                match rx.try_recv() {
                    Ok(Message::Batch(r)) => next = Some(r),
                    Ok(Message::Stop(ack)) => *stop = Some(ack),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
                }
            }
        }
        strike(&self.fault, batches);
        if let Err(e) = conn.exec("COMMIT") {
            tracing::warn!(error = %e, batches, "group commit failed; its batches get the error");
            abandon(conn, ran, &e.to_string());
            return;
        }
        drop(gate);
        self.conn = Some(conn);
        self.groups.fetch_add(1, Ordering::Relaxed);
        let (rows, groups) = &mut self.since_checkpoint;
        (*rows, *groups) = (*rows + written, *groups + 1);
        if (*rows >= CHECKPOINT_ROWS || *groups >= CHECKPOINT_GROUPS)
            && let Some(nudge) = &self.nudge
        {
            self.since_checkpoint = (0, 0);
            // A full channel means a checkpoint is already due: nothing to add.
            let _ = nudge.try_send(());
        }
        tracing::debug!(batches, committed = ran.len(), "group committed");
        for done in ran {
            let _ = done.send(Ok(()));
        }
    }

    /// The write turn and the connection (the open one, or a new one) with a transaction
    /// begun. The connection is the group's until it commits; a group that fails drops it.
    async fn begin(
        &mut self,
    ) -> Result<(Option<OwnedMutexGuard<()>>, DirectConnection), sqlx::Error> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => DirectConnection::open(&self.file, &self.pragmas, Access::Write)
                .map_err(database_error)?,
        };
        let gate = write_turn_on(&self.file).await?;
        conn.exec("BEGIN IMMEDIATE").map_err(database_error)?;
        Ok((gate, conn))
    }
}

/// Where a batch's outcome goes.
type Answer = oneshot::Sender<Result<(), sqlx::Error>>;

/// Rolls a group back and answers the batches that ran in it with why it failed. The
/// connection is dropped: the next group starts on a fresh one.
fn abandon(mut conn: DirectConnection, ran: Vec<Answer>, why: &str) {
    let _ = conn.exec("ROLLBACK");
    for done in ran {
        let _ = done.send(Err(group_failed(why)));
    }
}

/// Injects the armed fault if this is its group (statements run, commit not yet).
fn strike(fault: &Mutex<Option<(WriterFault, u64)>>, batches: usize) {
    let due = {
        let mut armed = lock(fault);
        match armed.as_mut() {
            Some((kind, 1)) => {
                let kind = *kind;
                *armed = None;
                Some(kind)
            }
            Some((_, left)) => {
                *left -= 1;
                None
            }
            None => None,
        }
    };
    match due {
        Some(WriterFault::Abort) => {
            eprintln!(
                "pv2: injected fault: the batching writer aborts the process before \
                     committing a group of {batches} batches"
            );
            std::process::abort();
        }
        Some(WriterFault::Panic) => {
            panic!("injected fault: the batching writer panics before committing a group")
        }
        None => {}
    }
}

/// The error each batch of a group gets when the group as a whole did not commit.
fn group_failed(why: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "the group this write was committed with failed ({why}); nothing of it was committed"
    )))
}

/// Runs one batch inside the group's transaction: in a savepoint of its own when other
/// batches ran before it, so a failure undoes it alone. A batch `alone` in the transaction
/// runs without one (two statements fewer a group — most groups of a backfill hold one
/// batch); a failure there rolls the whole transaction back and begins the next.
fn run_batch(conn: &mut DirectConnection, statements: Vec<Statement>, alone: bool) -> BatchOutcome {
    if !alone && let Err(e) = conn.exec("SAVEPOINT batch") {
        return BatchOutcome::Broken(database_error(e));
    }
    let mut rows = 0;
    for statement in statements {
        match statement.run_direct(conn, |_| Ok(())) {
            Ok(changed) => rows += changed,
            Err(e) => {
                let e = e.unwrap_or_else(|| group_failed("a statement stopped without an error"));
                let (undo, resume) = if alone {
                    ("ROLLBACK", "BEGIN IMMEDIATE")
                } else {
                    ("ROLLBACK TO batch", "RELEASE batch")
                };
                let undone = conn.exec(undo);
                let resumed = conn.exec(resume);
                return match (undone, resumed) {
                    (Ok(()), Ok(())) => BatchOutcome::Failed(e),
                    _ => BatchOutcome::Broken(e),
                };
            }
        }
    }
    if alone {
        return BatchOutcome::Ran(rows);
    }
    match conn.exec("RELEASE batch") {
        Ok(()) => BatchOutcome::Ran(rows),
        Err(e) => BatchOutcome::Broken(database_error(e)),
    }
}

/// The writer connection's settings: every SQLite connection's (`SQLITE_PRAGMAS`), with the
/// log checkpointed at `autocheckpoint` pages (`"0"` when the checkpointer thread does it).
fn write_pragmas(autocheckpoint: &'static str) -> Vec<(&'static str, &'static str)> {
    SQLITE_PRAGMAS
        .into_iter()
        .chain([("wal_autocheckpoint", autocheckpoint)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A database at `url` with a table `t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`, and
    /// its writes.
    async fn table_at(url: &str) -> (SqlitePool, Writes) {
        let pool = Pool::connect(url, 4).await.unwrap();
        let Pool::Sqlite(p) = &pool else {
            unreachable!()
        };
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(p)
            .await
            .unwrap();
        (p.clone(), Writes::for_pool(&pool))
    }

    /// A SQLite file with the table `t`.
    async fn database() -> (tempfile::TempDir, SqlitePool, Writes) {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writes) =
            table_at(&format!("sqlite://{}", dir.path().join("w.db").display())).await;
        assert!(writes.writer.is_some());
        (dir, pool, writes)
    }

    /// `PRAGMA name` on a direct connection, as text.
    fn pragma(conn: &mut DirectConnection, name: &str) -> String {
        let mut value = String::new();
        conn.run::<()>(&format!("PRAGMA {name}"), &[], |row| {
            value = String::from_utf8_lossy(row.bytes(0).unwrap_or_default()).into_owned();
            Ok(())
        })
        .unwrap();
        value
    }

    #[tokio::test]
    async fn the_pool_the_writer_and_the_checkpointer_share_the_settings() {
        let (dir, pool, _writes) = database().await;
        let path = dir.path().join("w.db");
        let mut pooled = pool.acquire().await.unwrap();
        let mut writer =
            DirectConnection::open(&path, &write_pragmas(WAL_AUTOCHECKPOINT), Access::Write)
                .unwrap();
        for (name, value) in [
            ("foreign_keys", "1"),
            ("synchronous", "1"),
            ("busy_timeout", "60000"),
            ("cache_size", "-65536"),
            ("temp_store", "2"),
            ("mmap_size", "0"),
            ("wal_autocheckpoint", "16384"),
        ] {
            let (from_pool,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(&mut *pooled)
                    .await
                    .unwrap();
            assert_eq!(from_pool.to_string(), value, "the pool's {name}");
            assert_eq!(pragma(&mut writer, name), value, "the writer's {name}");
        }
        // The checkpointer waits for readers a short while only.
        let mut checkpointer = checkpointer_options(pool.connect_options().as_ref())
            .connect()
            .await
            .unwrap();
        let (wait,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
            .fetch_one(&mut checkpointer)
            .await
            .unwrap();
        assert_eq!(wait, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_while_readers_keep_reading() {
        let (dir, pool, writes) = database().await;
        let path = dir.path().join("w.db");
        // A reader that never pauses, as the store's reads during a backfill.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (stop, path) = (Arc::clone(&stop), path.clone());
            std::thread::spawn(move || {
                let mut c = DirectConnection::open(&path, &[], Access::Read).unwrap();
                let mut reads = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    c.run::<()>("SELECT COUNT(*), MAX(v) FROM t", &[], |_| Ok(()))
                        .unwrap();
                    reads += 1;
                }
                reads
            })
        };
        // 160 groups of 500 rows of 200 bytes: about 20 MB of log between them, with a
        // checkpoint due every CHECKPOINT_ROWS rows.
        let v = "x".repeat(200);
        for g in 0..160_i64 {
            let mut batch = writes.begin(&pool).await.unwrap();
            for i in 0..500 {
                batch
                    .run(
                        Statement::new("INSERT INTO t (k, v) VALUES ($1, $2)")
                            .bind(1 + g * 500 + i)
                            .bind(v.as_str()),
                    )
                    .await
                    .unwrap();
            }
            batch.commit().await.unwrap();
            // A session's other work between its writes.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        let wal = std::fs::metadata(dir.path().join("w.db-wal"))
            .unwrap()
            .len();
        // Passive checkpoints alone leave the whole 20 MB in the log; restarted, it holds
        // what a checkpoint interval (5,000 rows, ~1.3 MB) writes, or several when the
        // checkpointer's thread falls behind on a busy machine (6 MB seen under load).
        assert!(wal < 12_000_000, "the log grew to {wal} bytes");
    }

    /// Writes rows `keys` as one batch; `v` NULL for a key of 0 (a failing statement).
    async fn write(writes: &Writes, pool: &SqlitePool, keys: &[i64]) -> Result<(), sqlx::Error> {
        let mut batch = writes.begin(pool).await?;
        for &k in keys {
            let v = (k != 0).then(|| format!("row {k}"));
            batch
                .run(
                    Statement::new("INSERT INTO t (k, v) VALUES ($1, $2)")
                        .bind(k)
                        .bind(v),
                )
                .await?;
        }
        batch.commit().await
    }

    async fn keys(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT k FROM t ORDER BY k")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// Sends a batch writing `keys` to the writer (a first poll of [`write`] runs it up
    /// to the channel) and returns the rest of it: waiting for the answer.
    async fn sent<'a>(
        writes: &'a Writes,
        pool: &'a SqlitePool,
        keys: &'a [i64],
    ) -> std::pin::Pin<Box<impl Future<Output = Result<(), sqlx::Error>> + 'a>> {
        let mut f = Box::pin(write(writes, pool, keys));
        assert!(
            futures::poll!(&mut f).is_pending(),
            "answered before the commit"
        );
        f
    }

    /// Queues `batches` while the write turn on `dir/w.db` is held, so they meet in one
    /// group, then releases it: whether each batch was written.
    async fn queued_as_one_group(
        dir: &tempfile::TempDir,
        writes: &Writes,
        pool: &SqlitePool,
        batches: &[&[i64]],
    ) -> Vec<bool> {
        let turn = write_turn_on(&dir.path().join("w.db")).await.unwrap();
        let mut waiting = Vec::new();
        for batch in batches {
            waiting.push(sent(writes, pool, batch).await);
        }
        drop(turn);
        futures::future::join_all(waiting)
            .await
            .into_iter()
            .map(|r| r.is_ok())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_that_queue_up_commit_as_one_group_and_a_failing_one_alone_is_lost() {
        let (dir, pool, writes) = database().await;
        // Hold the write turn so the writer waits with its first batch and the rest queue.
        let results =
            queued_as_one_group(&dir, &writes, &pool, &[&[1, 2], &[3, 0], &[4], &[5, 6, 7]]).await;
        assert_eq!(results, [true, false, true, true]);
        assert_eq!(
            keys(&pool).await,
            [1, 2, 4, 5, 6, 7],
            "batch [3, 0] rolled back alone"
        );
        assert_eq!(writes.groups(), 1, "four batches, one commit");
        write(&writes, &pool, &[8]).await.unwrap();
        assert_eq!(keys(&pool).await.len(), 7);
        assert_eq!(writes.groups(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_whose_first_batch_fails_loses_that_batch_alone() {
        let (dir, pool, writes) = database().await;
        // The first batch runs without a savepoint and fails after writing a row; the
        // second is then alone in a fresh transaction, the third in a savepoint again.
        let results =
            queued_as_one_group(&dir, &writes, &pool, &[&[1, 0], &[2], &[3, 4], &[5, 0]]).await;
        assert_eq!(results, [false, true, true, false]);
        assert_eq!(keys(&pool).await, [2, 3, 4], "row 1 and row 5 rolled back");
        assert_eq!(writes.groups(), 1);
        write(&writes, &pool, &[6, 0]).await.unwrap_err();
        write(&writes, &pool, &[7]).await.unwrap();
        assert_eq!(
            keys(&pool).await,
            [2, 3, 4, 7],
            "a lone failing group writes nothing"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_dies_before_its_commit_answers_with_an_error_and_carries_on() {
        let (_dir, pool, writes) = database().await;
        write(&writes, &pool, &[1]).await.unwrap();
        assert!(writes.inject(WriterFault::Panic, 1));
        let lost = write(&writes, &pool, &[2, 3]).await;
        assert!(matches!(lost, Err(sqlx::Error::WorkerCrashed)), "{lost:?}");
        assert_eq!(
            keys(&pool).await,
            [1],
            "nothing of the lost group is in the database"
        );
        write(&writes, &pool, &[2, 3]).await.unwrap();
        assert_eq!(keys(&pool).await, [1, 2, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stopping_commits_what_is_queued_and_refuses_what_comes_after() {
        let (dir, pool, writes) = database().await;
        let turn = write_turn_on(&dir.path().join("w.db")).await.unwrap();
        let queued = sent(&writes, &pool, &[1]).await;
        let mut stop = Box::pin(writes.stop());
        assert!(futures::poll!(&mut stop).is_pending());
        drop(turn);
        let (written, ()) = tokio::join!(queued, stop);
        written.unwrap();
        assert_eq!(keys(&pool).await, [1]);
        let after = write(&writes, &pool, &[2]).await;
        assert!(after.unwrap_err().to_string().contains("has stopped"));
    }

    #[tokio::test]
    async fn an_in_memory_database_writes_its_batches_directly() {
        let (p, writes) = table_at("sqlite::memory:").await;
        assert!(writes.writer.is_none());
        write(&writes, &p, &[1, 2]).await.unwrap();
        assert!(write(&writes, &p, &[3, 0]).await.is_err());
        assert_eq!(keys(&p).await, [1, 2]);
    }
}
