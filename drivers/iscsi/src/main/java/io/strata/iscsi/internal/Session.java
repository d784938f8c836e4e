package io.strata.iscsi.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.WriteFence;
import io.strata.multipath.PathFailedException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI session (one libiscsi context) to one target through one portal, with the event
 * loop thread that owns it. Callers on any thread submit work through a queue and wake the loop
 * with an eventfd polled together with the iSCSI socket; results come back as
 * {@link CompletableFuture}s, completed on the loop thread. Many commands may be in flight.
 *
 * <p>The loop also services libiscsi's timeouts once a second ({@code iscsi_service(ctx, 0)}),
 * sends a NOP-Out every {@value #NOP_INTERVAL_MS} ms while idle or busy and declares the
 * connection dead when {@value #MAX_NOPS_IN_FLIGHT} of them go unanswered, and fails a command
 * that outlives its deadline (the configured timeout) as a fallback to libiscsi's own.
 *
 * <p>libiscsi never reconnects by itself ({@code iscsi_set_noautoreconnect}): a lost connection
 * fails every command in flight with {@link PathFailedException} and leaves the session
 * {@link State#FAILED} until {@link #connect()} is called again, which logs in on a fresh
 * context. A discovery session ({@code target == null}) only serves {@link #discover()}.
 *
 * <p>A write may carry a {@link WriteFence} (the host's lease on shared storage). The loop
 * checks it right before it hands the command to libiscsi, and then, while libiscsi holds the
 * command, before each {@code iscsi_service} call that may send its PDUs (the command, its
 * immediate data, the Data-Out PDUs answering the target's R2Ts). When the fence refuses, the
 * writes behind it fail with what it threw and the connection is dropped before libiscsi
 * sends anything more. The target then never gets the rest of a command it has only in part,
 * and never runs it. A host that froze with writes queued or half sent therefore sends nothing
 * of them when it wakes after its lease expired.
 */
final class Session implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Session.class);

    static final int NOP_INTERVAL_MS = 1000;
    static final int MAX_NOPS_IN_FLIGHT = 3;
    private static final long TICK_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** Where a session is. */
    enum State { IDLE, CONNECTING, LOGGED_IN, FAILED, CLOSED }

    /**
     * What a session connects to and how.
     *
     * @param portal {@code host:port}
     * @param target the target IQN, or null for a SendTargets discovery session
     * @param initiator this host's initiator IQN
     * @param chapUser the CHAP user, or null
     * @param chapSecret the CHAP secret, or null; never printed
     * @param timeoutSeconds the time limit of a login or a command
     */
    record Config(String portal, String target, String initiator, String chapUser, String chapSecret,
            int timeoutSeconds) {
        Config forTarget(String iqn) {
            return new Config(portal, iqn, initiator, chapUser, chapSecret, timeoutSeconds);
        }

        @Override
        public String toString() {
            return "Session.Config[portal=" + portal + ", target=" + target + ", chap-user=" + chapUser + "]";
        }
    }

    /** A target SendTargets reported. */
    record DiscoveredTarget(String iqn, List<String> portals) {
    }

    /** Work for the loop thread; {@link #fail} is called instead of {@link #run} once the loop is gone. */
    private interface Op {
        void run();

        void fail(RuntimeException e);
    }

    /** What a callback with a given private-data tag completes. */
    private interface Pending {
        void complete(int status, long commandData);

        /** Fails it without a callback (the connection is being torn down). */
        void abort(RuntimeException e);

        /** @return the deadline in System.nanoTime terms, or Long.MAX_VALUE */
        default long deadline() {
            return Long.MAX_VALUE;
        }
    }

    private final Config config;
    private final String name;
    private final Thread thread;
    private final WakeFd wakeFd;
    /** This session's place in {@link LibIscsi#LOOPS}, left by the loop thread when it ends. */
    private final int loopTicket;
    private final Memory pollFds = new Memory(16);
    private final ConcurrentLinkedQueue<Op> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean wakePending = new AtomicBoolean();
    /** The one callback of this session: kept strongly here for the session's life. */
    private final LibIscsi.CommandCallback callback = this::onCallback;

    private volatile State state = State.IDLE;
    private volatile String failure = "not logged in";
    private volatile boolean closing;
    private volatile boolean exited;

    // owned by the loop thread
    private long ctx;
    private final Map<Long, Pending> pending = new HashMap<>();
    /** The fences of the writes libiscsi holds now, each with how many of them it fences (by identity). */
    private final Map<WriteFence, Integer> fences = new IdentityHashMap<>();
    /**
     * Commands libiscsi completed during the current call into it, whose futures are completed
     * together once it returns (loop thread only): a burst of responses read in one
     * {@code iscsi_service} then reaches the callers as a burst, so that what follows them
     * (an NBD server's reply sender) wakes once for all rather than once for each.
     */
    private final List<Command> completed = new ArrayList<>();
    private long nextTag;
    private CompletableFuture<Void> login;
    private long loginDeadline;
    private long connectTag;
    private boolean teardown;
    private long lastTick;
    private long lastNop;

    /**
     * Starts the session's loop thread; nothing is connected until {@link #connect()}.
     *
     * @param config where to and how
     */
    Session(Config config) {
        LibIscsi.ensureLoaded();
        this.config = config;
        this.name = config.portal() + (config.target() == null ? " (discovery)" : " " + config.target());
        this.loopTicket = LibIscsi.LOOPS.enter(); // left when the loop ends: until then the bundle keeps its bindings
        WakeFd wake = null;
        try {
            wake = new WakeFd(name);
            this.wakeFd = wake;
            this.thread = new Thread(this::loop, "iscsi " + name);
            thread.setDaemon(true);
            thread.start();
        } catch (RuntimeException | Error e) {
            if (wake != null) {
                wake.close();
            }
            LibIscsi.LOOPS.exit(loopTicket);
            throw e;
        }
    }

    /** @return {@code portal target}, for messages */
    String name() {
        return name;
    }

    Config config() {
        return config;
    }

    State state() {
        return state;
    }

    /** @return why the session is not logged in */
    String failure() {
        return failure;
    }

    boolean loggedIn() {
        return state == State.LOGGED_IN;
    }

    /**
     * Logs in (on a fresh context when the session failed), or does nothing when logged in.
     *
     * @return completes when logged in; fails with {@link PathFailedException} or a
     *         {@link StorageException} ({@code PERMISSION_DENIED} for a refused CHAP login)
     */
    CompletableFuture<Void> connectAsync() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        submit(new Op() {
            @Override
            public void run() {
                startLogin(done);
            }

            @Override
            public void fail(RuntimeException e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    /** {@link #connectAsync()} and waits for it. */
    void connect() {
        await(connectAsync(), config.timeoutSeconds() + 5L);
    }

    /** Runs a SendTargets discovery on a logged-in discovery session. */
    List<DiscoveredTarget> discover() {
        CompletableFuture<List<DiscoveredTarget>> done = new CompletableFuture<>();
        submit(new Op() {
            @Override
            public void run() {
                startDiscovery(done);
            }

            @Override
            public void fail(RuntimeException e) {
                done.completeExceptionally(e);
            }
        });
        return await(done, config.timeoutSeconds() + 5L);
    }

    /**
     * Sends one SCSI command.
     *
     * @param lun the LUN
     * @param cdb the CDB
     * @param direction {@link LibIscsi#XFER_NONE}, {@code _READ} or {@code _WRITE}
     * @param length the bytes to transfer
     * @param address where they are (native memory that stays valid until completion), 0 for none
     * @param owner kept reachable until completion (the buffer behind {@code address})
     * @return how the command ended; never completes exceptionally
     */
    CompletableFuture<ScsiResult> execute(int lun, byte[] cdb, int direction, int length, long address,
            Object owner) {
        return execute(lun, cdb, direction, length, address, owner, null);
    }

    /**
     * {@link #execute} sent only while {@code fence} passes: checked on the loop thread right
     * before the command is handed to libiscsi and before each later call that may send its
     * PDUs. A refusal completes the future exceptionally with what the fence threw; when the
     * command was already with libiscsi, the connection is dropped first (the session is then
     * FAILED until {@link #connect()}).
     *
     * @param fence null for none
     */
    CompletableFuture<ScsiResult> execute(int lun, byte[] cdb, int direction, int length, long address,
            Object owner, WriteFence fence) {
        Command c = new Command(lun, cdb, direction, length, address, owner, fence);
        submit(c);
        return c.future;
    }

    /**
     * {@link #execute} with the data in (or out) of a fresh native buffer copied to (from) a byte array.
     *
     * @param data for data out: the bytes to send; for data in: receives the bytes (zero-filled first)
     */
    ScsiResult executeBytes(int lun, byte[] cdb, int direction, byte[] data) {
        Memory mem = data.length == 0 ? null : new Memory(data.length);
        if (mem != null) {
            mem.write(0, data, 0, data.length);
        }
        ScsiResult r = await(execute(lun, cdb, direction, data.length, mem == null ? 0 : Pointer.nativeValue(mem), mem),
                config.timeoutSeconds() + 10L);
        if (mem != null && direction == LibIscsi.XFER_READ) {
            mem.read(0, data, 0, data.length);
        }
        return r;
    }

    /**
     * Waits for a future of this session's loop.
     *
     * @param seconds a backstop beyond the loop's own deadlines
     */
    <T> T await(CompletableFuture<T> f, long seconds) {
        try {
            return f.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new PathFailedException("iscsi " + name + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new PathFailedException("iscsi " + name + ": no answer within " + seconds + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "iscsi " + name + ": interrupted");
        }
    }

    private void submit(Op op) {
        if (exited) {
            op.fail(closedError());
            return;
        }
        queue.add(op);
        if (exited) {
            failQueued();
        } else if (wakePending.compareAndSet(false, true)) {
            wakeFd.wake(); // nothing once the loop has closed it
        }
    }

    private PathFailedException closedError() {
        return new PathFailedException("iscsi " + name + ": session closed");
    }

    private void failQueued() {
        for (Op op; (op = queue.poll()) != null;) {
            op.fail(closedError());
        }
    }

    // ---------------------------------------------------------------- loop thread

    private void loop() {
        lastTick = System.nanoTime();
        lastNop = lastTick;
        try {
            while (!closing) {
                completeDeferred();
                runQueued();
                if (teardown) {
                    tearDown();
                }
                long now = System.nanoTime();
                if (now - lastTick >= TICK_NANOS) {
                    tick(now);
                    if (teardown) {
                        tearDown();
                    }
                }
                pollOnce();
            }
        } catch (RuntimeException | Error e) {
            LOG.error("iscsi {}: event loop failed", name, e);
            failure = "event loop failed: " + e;
        } finally {
            exited = true;
            state = State.CLOSED;
            if (failure == null || failure.isEmpty()) {
                failure = "session closed";
            }
            abortAll(closedError());
            if (ctx != 0) {
                LibIscsi.iscsi_destroy_context(ctx);
                ctx = 0;
            }
            completeDeferred();
            failQueued();
            wakeFd.close(); // after any wake-up in progress: none writes to a reused number
            LibIscsi.LOOPS.exit(loopTicket); // this loop's last native call is done
        }
    }

    /** Completes the futures of the commands {@link #completed} holds. */
    private void completeDeferred() {
        if (completed.isEmpty()) {
            return;
        }
        Command[] batch = completed.toArray(new Command[0]);
        completed.clear();
        for (Command c : batch) {
            if (c.refusal != null) {
                c.future.completeExceptionally(c.refusal);
            } else {
                c.future.complete(c.result);
            }
        }
    }

    private void runQueued() {
        boolean ran = false;
        for (Op op; (op = queue.poll()) != null;) {
            ran = true;
            try {
                op.run();
            } catch (RuntimeException e) {
                op.fail(e);
            }
        }
        if (ran && state == State.LOGGED_IN && ctx != 0
                && (LibIscsi.iscsi_which_events(ctx) & LibIscsi.POLLOUT) != 0 && fencesPass()
                && LibIscsi.iscsi_service(ctx, LibIscsi.POLLOUT) < 0) {
            // The commands just queued go out now rather than after a poll that would only say
            // the socket is writable; what cannot be written waits for that poll as before.
            connectionLost(error("connection failed"));
        }
    }

    private void pollOnce() {
        completeDeferred(); // before sleeping: nothing completed waits for the next event
        int events = ctx == 0 ? 0 : LibIscsi.iscsi_which_events(ctx);
        int fd = ctx == 0 ? -1 : LibIscsi.iscsi_get_fd(ctx);
        long base = Pointer.nativeValue(pollFds);
        pollFds.setInt(0, wakeFd.fd());
        pollFds.setShort(4, LibIscsi.POLLIN);
        pollFds.setShort(6, (short) 0);
        pollFds.setInt(8, fd);
        pollFds.setShort(12, (short) events);
        pollFds.setShort(14, (short) 0);
        int nfds = fd >= 0 && events != 0 ? 2 : 1;
        long untilTick = TICK_NANOS - (System.nanoTime() - lastTick);
        int timeoutMs = (int) Math.max(0, Math.min(1000, TimeUnit.NANOSECONDS.toMillis(untilTick) + 1));
        if (ctx != 0 && events == 0) {
            timeoutMs = Math.min(timeoutMs, 100);
        }
        int n = LibIscsi.C.poll(base, nfds, timeoutMs);
        if (n <= 0) {
            return;
        }
        if (pollFds.getShort(6) != 0) {
            // Drain first, then allow the next wake-up: the other order can lose one (a submitter
            // writing between the two sees its write drained while wakePending stays true, and
            // every later submitter skips its write; the loop would then sleep until its tick).
            // The queue is read at the top of the loop, after this.
            wakeFd.drain();
            wakePending.set(false);
        }
        if (nfds == 2) {
            int revents = pollFds.getShort(14) & 0xffff;
            if (revents != 0 && ctx != 0 && fencesPass() && LibIscsi.iscsi_service(ctx, revents) < 0) {
                connectionLost(error("connection failed"));
            }
            completeDeferred();
        }
    }

    /** Once a second: libiscsi's timeouts, our deadlines, NOP-Out keepalives, the login deadline. */
    private void tick(long now) {
        lastTick = now;
        if (ctx == 0) {
            return;
        }
        if (LibIscsi.iscsi_service(ctx, 0) < 0) {
            connectionLost(error("connection failed"));
            return;
        }
        if (state == State.CONNECTING && now - loginDeadline > 0) {
            loginFailed(new PathFailedException("iscsi " + name + ": login timed out after "
                    + config.timeoutSeconds() + " s"));
            return;
        }
        for (Pending p : pending.values()) {
            if (now - p.deadline() > 0) {
                connectionLost("a command got no answer within " + config.timeoutSeconds() + " s");
                return;
            }
        }
        if (state == State.LOGGED_IN && now - lastNop >= TimeUnit.MILLISECONDS.toNanos(NOP_INTERVAL_MS)) {
            lastNop = now;
            if (LibIscsi.iscsi_get_nops_in_flight(ctx) >= MAX_NOPS_IN_FLIGHT) {
                connectionLost(MAX_NOPS_IN_FLIGHT + " NOP-Outs went unanswered");
                return;
            }
            LibIscsi.iscsi_nop_out_async(ctx, null, 0, 0, 0);
        }
    }

    /**
     * Checks the fences of the writes libiscsi holds, right before a call into it that may send
     * their PDUs. On a refusal the writes behind that fence are marked to fail with it, and the
     * connection is dropped (torn down before libiscsi is serviced again), so nothing more of
     * them goes out: a target that has part of a command never runs it.
     *
     * @return whether libiscsi may be serviced now
     */
    private boolean fencesPass() {
        if (fences.isEmpty()) {
            return true;
        }
        for (WriteFence f : fences.keySet()) {
            try {
                f.check();
            } catch (RuntimeException e) {
                int n = 0;
                for (Pending p : pending.values()) {
                    if (p instanceof Command c && c.fence == f) {
                        c.refusal = e;
                        n++;
                    }
                }
                connectionLost("the fence of " + n + " write(s) in flight refused (" + e.getMessage()
                        + "); dropping the connection so that nothing more of them is sent");
                return false;
            }
        }
        return true;
    }

    private String error(String fallback) {
        String e = ctx == 0 ? null : LibIscsi.iscsi_get_error(ctx);
        return e == null || e.isBlank() ? fallback : e.trim();
    }

    private long register(Pending p) {
        long tag = ++nextTag;
        pending.put(tag, p);
        return tag;
    }

    private void onCallback(long iscsi, int status, long commandData, long tag) {
        Pending p = tag == connectTag ? pending.get(tag) : pending.remove(tag);
        if (p != null) {
            try {
                p.complete(status, commandData);
            } catch (RuntimeException e) {
                LOG.error("iscsi {}: completion failed", name, e);
            }
        }
    }

    private void startLogin(CompletableFuture<Void> done) {
        if (state == State.LOGGED_IN) {
            done.complete(null);
            return;
        }
        if (state == State.CONNECTING) {
            login.whenComplete((v, e) -> {
                if (e == null) {
                    done.complete(null);
                } else {
                    done.completeExceptionally(e);
                }
            });
            return;
        }
        if (ctx != 0) {
            tearDown();
        }
        ctx = LibIscsi.iscsi_create_context(config.initiator());
        if (ctx == 0) {
            done.completeExceptionally(new StorageException(ErrorCode.INTERNAL,
                    "iscsi " + name + ": cannot create a libiscsi context"));
            return;
        }
        LibIscsi.iscsi_set_noautoreconnect(ctx, 1);
        LibIscsi.iscsi_set_timeout(ctx, config.timeoutSeconds());
        LibIscsi.iscsi_set_tcp_keepalive(ctx, 10, 3, 5);
        LibIscsi.iscsi_set_tcp_user_timeout(ctx, config.timeoutSeconds() * 1000);
        if (config.target() == null) {
            LibIscsi.iscsi_set_session_type(ctx, LibIscsi.SESSION_DISCOVERY);
        } else {
            LibIscsi.iscsi_set_session_type(ctx, LibIscsi.SESSION_NORMAL);
            LibIscsi.iscsi_set_targetname(ctx, config.target());
        }
        if (config.chapUser() != null) {
            LibIscsi.iscsi_set_initiator_username_pwd(ctx, config.chapUser(), config.chapSecret());
        }
        state = State.CONNECTING;
        login = done;
        loginDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.timeoutSeconds());
        long ctxAtStart = ctx;
        connectTag = register(new Pending() {
            private boolean connected;

            @Override
            public void complete(int status, long commandData) {
                if (ctx != ctxAtStart) {
                    return;
                }
                if (!connected && status == LibIscsi.SCSI_STATUS_GOOD) {
                    connected = true;
                    sendLogin();
                } else if (state == State.CONNECTING) {
                    loginFailed(new PathFailedException("iscsi " + name + ": cannot connect: "
                            + error("connection refused")));
                } else if (state == State.LOGGED_IN) {
                    connectionLost(error("connection lost"));
                }
            }

            @Override
            public void abort(RuntimeException e) {
                // the login future is failed by tearDown
            }
        });
        if (LibIscsi.iscsi_connect_async(ctx, config.portal(), callback, connectTag) != 0) {
            loginFailed(new PathFailedException("iscsi " + name + ": cannot connect: " + error("connect failed")));
        }
    }

    private void sendLogin() {
        long tag = register(new Pending() {
            @Override
            public void complete(int status, long commandData) {
                if (state != State.CONNECTING) {
                    return;
                }
                if (status == LibIscsi.SCSI_STATUS_GOOD) {
                    state = State.LOGGED_IN;
                    failure = "";
                    lastNop = System.nanoTime();
                    LOG.info("iscsi {}: logged in", name);
                    CompletableFuture<Void> l = login;
                    login = null;
                    l.complete(null);
                } else {
                    loginFailed(loginError(error("login failed")));
                }
            }

            @Override
            public void abort(RuntimeException e) {
                // the login future is failed by tearDown
            }
        });
        if (LibIscsi.iscsi_login_async(ctx, callback, tag) != 0) {
            pending.remove(tag);
            loginFailed(loginError(error("login failed")));
        }
    }

    /** Maps a refused login to a typed error: authentication failures are PERMISSION_DENIED. */
    private RuntimeException loginError(String message) {
        String m = message.toLowerCase(Locale.ROOT);
        if (m.contains("authentication") || m.contains("authoriz") || m.contains("chap")) {
            return new StorageException(ErrorCode.PERMISSION_DENIED, "iscsi " + name
                    + ": the target refused the login (CHAP authentication failed: check chap-user and chap-secret)");
        }
        if (m.contains("not found") || m.contains("target removed")) {
            return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "iscsi " + name
                    + ": the target refused the login: " + message);
        }
        return new PathFailedException("iscsi " + name + ": login failed: " + message);
    }

    private void loginFailed(RuntimeException e) {
        failure = e.getMessage();
        state = State.FAILED;
        CompletableFuture<Void> l = login;
        login = null;
        if (l != null) {
            l.completeExceptionally(e);
        }
        teardown = true;
    }

    /** The connection of a logged-in session broke: fail what is in flight, wait for connect(). */
    private void connectionLost(String reason) {
        if (state == State.CONNECTING) {
            loginFailed(new PathFailedException("iscsi " + name + ": " + reason));
            return;
        }
        if (state != State.LOGGED_IN) {
            return;
        }
        LOG.warn("iscsi {}: connection lost: {}", name, reason);
        failure = reason;
        state = State.FAILED;
        teardown = true;
    }

    /** Cancels every task (callbacks run now), then destroys the context. */
    private void tearDown() {
        teardown = false;
        if (ctx != 0) {
            LibIscsi.iscsi_scsi_cancel_all_tasks(ctx);
            abortAll(new PathFailedException("iscsi " + name + ": " + failure));
            long old = ctx;
            ctx = 0;
            LibIscsi.iscsi_destroy_context(old);
        }
        connectTag = 0;
        if (state != State.CLOSED && state != State.FAILED) {
            state = State.FAILED;
        }
    }

    private void abortAll(RuntimeException e) {
        if (login != null) {
            CompletableFuture<Void> l = login;
            login = null;
            l.completeExceptionally(e);
        }
        List<Pending> left = new ArrayList<>(pending.values());
        pending.clear();
        for (Pending p : left) {
            p.abort(e);
        }
    }

    private void startDiscovery(CompletableFuture<List<DiscoveredTarget>> done) {
        if (state != State.LOGGED_IN || config.target() != null) {
            done.completeExceptionally(new PathFailedException("iscsi " + name + ": not logged in: " + failure));
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.timeoutSeconds());
        long tag = register(new Pending() {
            @Override
            public void complete(int status, long list) {
                if (status != LibIscsi.SCSI_STATUS_GOOD) {
                    done.completeExceptionally(new PathFailedException("iscsi " + name + ": SendTargets failed: "
                            + error("status " + status)));
                    return;
                }
                done.complete(readDiscovery(list));
            }

            @Override
            public void abort(RuntimeException e) {
                done.completeExceptionally(e);
            }

            @Override
            public long deadline() {
                return deadline;
            }
        });
        if (LibIscsi.iscsi_discovery_async(ctx, callback, tag) != 0) {
            pending.remove(tag);
            done.completeExceptionally(new PathFailedException("iscsi " + name + ": SendTargets failed: "
                    + error("cannot send")));
        }
    }

    /** Reads libiscsi's {@code struct iscsi_discovery_address} list (valid during the callback only). */
    private static List<DiscoveredTarget> readDiscovery(long list) {
        List<DiscoveredTarget> targets = new ArrayList<>();
        for (long a = list; a != 0; a = new Pointer(a).getLong(0)) {
            Pointer address = new Pointer(a);
            long namePtr = address.getLong(8);
            if (namePtr == 0) {
                continue;
            }
            String iqn = new Pointer(namePtr).getString(0);
            List<String> portals = new ArrayList<>();
            for (long p = address.getLong(16); p != 0; p = new Pointer(p).getLong(0)) {
                long s = new Pointer(p).getLong(8);
                if (s != 0) {
                    portals.add(new Pointer(s).getString(0));
                }
            }
            targets.add(new DiscoveredTarget(iqn, List.copyOf(portals)));
        }
        return targets;
    }

    /** One SCSI command: queued by a caller, started and completed on the loop thread. */
    private final class Command implements Op, Pending {
        final CompletableFuture<ScsiResult> future = new CompletableFuture<>();
        private final int lun;
        private final byte[] cdb;
        private final int direction;
        private final int length;
        private final long address;
        @SuppressWarnings("unused")
        private final Object owner;
        private final WriteFence fence;
        private long task;
        private long deadline = Long.MAX_VALUE;
        /** The result, set by {@link #complete} until {@link #completeDeferred} hands it over. */
        private ScsiResult result;
        /** What the fence threw while libiscsi held the command: the command fails with it. */
        private RuntimeException refusal;
        private boolean fenceCounted;

        Command(int lun, byte[] cdb, int direction, int length, long address, Object owner, WriteFence fence) {
            this.fence = fence;
            this.lun = lun;
            this.cdb = cdb;
            this.direction = direction;
            this.length = length;
            this.address = address;
            this.owner = owner;
        }

        @Override
        public void run() {
            if (state != State.LOGGED_IN) {
                future.complete(ScsiResult.transport(LibIscsi.SCSI_STATUS_ERROR, "iscsi " + name
                        + ": not logged in: " + failure));
                return;
            }
            if (fence != null) {
                try {
                    fence.check(); // the last moment before libiscsi has it
                } catch (RuntimeException e) {
                    future.completeExceptionally(e);
                    return;
                }
            }
            task = LibIscsi.scsi_create_task(cdb.length, cdb, direction, length);
            if (task == 0) {
                future.complete(ScsiResult.transport(LibIscsi.SCSI_STATUS_ERROR, "iscsi " + name
                        + ": out of memory for a SCSI task"));
                return;
            }
            if (length > 0 && address != 0) {
                if (direction == LibIscsi.XFER_READ) {
                    LibIscsi.scsi_task_add_data_in_buffer(task, length, address);
                } else if (direction == LibIscsi.XFER_WRITE) {
                    LibIscsi.scsi_task_add_data_out_buffer(task, length, address);
                }
            }
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.timeoutSeconds() + 2L);
            long tag = register(this);
            if (LibIscsi.iscsi_scsi_command_async(ctx, lun, task, callback, 0, tag) != 0) {
                pending.remove(tag);
                LibIscsi.scsi_free_scsi_task(task);
                task = 0;
                String e = error("cannot queue the command");
                future.complete(ScsiResult.transport(LibIscsi.SCSI_STATUS_ERROR, "iscsi " + name + ": " + e));
            } else if (fence != null) {
                fences.merge(fence, 1, Integer::sum);
                fenceCounted = true;
            }
        }

        /** libiscsi no longer holds the command: its fence need not be checked for it. */
        private void uncountFence() {
            if (fenceCounted) {
                fenceCounted = false;
                fences.computeIfPresent(fence, (f, n) -> n == 1 ? null : n - 1);
            }
        }

        @Override
        public void fail(RuntimeException e) {
            future.complete(ScsiResult.transport(LibIscsi.SCSI_STATUS_ERROR, e.getMessage()));
        }

        @Override
        public void complete(int status, long commandData) {
            long t = task;
            task = 0;
            if (t == 0) {
                return;
            }
            uncountFence();
            Pointer p = new Pointer(t);
            ScsiResult r;
            if (status == LibIscsi.SCSI_STATUS_CANCELLED || status == LibIscsi.SCSI_STATUS_ERROR
                    || status == LibIscsi.SCSI_STATUS_TIMEOUT) {
                String why = status == LibIscsi.SCSI_STATUS_TIMEOUT
                        ? "command timed out after " + config.timeoutSeconds() + " s"
                        : status == LibIscsi.SCSI_STATUS_CANCELLED && !failure.isEmpty() ? failure
                        : error(status == LibIscsi.SCSI_STATUS_CANCELLED ? "connection lost" : "transport error");
                r = ScsiResult.transport(status, "iscsi " + name + ": " + why);
                if (status == LibIscsi.SCSI_STATUS_TIMEOUT) {
                    connectionLost("a command timed out after " + config.timeoutSeconds() + " s");
                }
            } else {
                int key = 0;
                int ascq = 0;
                if (status == LibIscsi.SCSI_STATUS_CHECK_CONDITION) {
                    key = p.getInt(LibIscsi.TASK_SENSE_KEY);
                    ascq = p.getInt(LibIscsi.TASK_SENSE_ASCQ);
                }
                long residual = p.getInt(LibIscsi.TASK_RESIDUAL_STATUS) == 1 ? p.getLong(LibIscsi.TASK_RESIDUAL) : 0;
                r = new ScsiResult(status, key, (ascq >>> 8) & 0xff, ascq & 0xff, residual, null);
            }
            LibIscsi.scsi_free_scsi_task(t);
            result = r;
            completed.add(this);
        }

        @Override
        public void abort(RuntimeException e) {
            // only reached when libiscsi did not call back on cancel: the task is ours to free
            long t = task;
            task = 0;
            if (t != 0) {
                LibIscsi.scsi_free_scsi_task(t);
            }
            uncountFence();
            if (refusal != null) {
                future.completeExceptionally(refusal);
            } else {
                future.complete(ScsiResult.transport(LibIscsi.SCSI_STATUS_CANCELLED, e.getMessage()));
            }
        }

        @Override
        public long deadline() {
            return deadline;
        }
    }

    // ---------------------------------------------------------------- close

    /** Stops the loop (failing what is in flight) and waits for its thread. Never throws. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        failure = "session closed";
        closing = true;
        wakeFd.wake(); // nothing if the loop already ended and closed it
        if (Thread.currentThread() != thread) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** @return how many sessions' threads are alive; for tests. */
    static long liveThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("iscsi ") && t.isAlive()).count();
    }

    @Override
    public String toString() {
        return "Session[" + name + ", " + state + "]";
    }
}
