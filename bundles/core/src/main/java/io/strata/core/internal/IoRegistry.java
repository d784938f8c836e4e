package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every volume's {@link VolumeIo}, created on first open, with its QoS limits kept in
 * Configuration Admin ({@code io.strata.qos~<datastore>:<volume>}, properties
 * {@code datastore}, {@code volume}, {@code iops}, {@code readIops}, {@code writeIops},
 * {@code bps}, {@code burst}) and an MBean per volume on the platform MBean server.
 */
final class IoRegistry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(IoRegistry.class);
    static final String QOS_FACTORY_PID = "io.strata.qos";

    private final ConfigStore store;
    private final Ticker ticker;
    private final boolean jmx;
    private final Map<VolumeRef, VolumeIo> volumes = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
    private final Map<VolumeRef, QosLimits> limits = new HashMap<>();

    IoRegistry(ConfigStore store, Ticker ticker, boolean jmx) {
        this.store = requireNonNull(store, "store");
        this.ticker = requireNonNull(ticker, "ticker");
        this.jmx = jmx;
        for (Map<String, Object> p : store.load(QOS_FACTORY_PID)) {
            try {
                VolumeRef ref = new VolumeRef(String.valueOf(p.get("datastore")), String.valueOf(p.get("volume")));
                limits.put(ref, new QosLimits(num(p.get("iops")), num(p.get("readIops")), num(p.get("writeIops")),
                        num(p.get("bps")), p.get("burst") == null ? 0.1 : Double.parseDouble(p.get("burst").toString())));
            } catch (RuntimeException e) {
                LOG.warn("ignoring malformed QoS configuration {}: {}", p, e.getMessage());
            }
        }
    }

    private static long num(Object o) {
        return o == null ? 0 : Long.parseLong(o.toString().trim());
    }

    static String configName(VolumeRef ref) {
        return ref.datastore() + ":" + ref.volume(); // ':' is in no name, so this is unambiguous
    }

    /** @return the volume's accounting, created (with its saved limits) on first use */
    synchronized VolumeIo of(VolumeRef ref) {
        VolumeIo io = volumes.get(ref);
        if (io == null) {
            io = new VolumeIo(ref, ticker);
            io.limits(limits.getOrDefault(ref, QosLimits.NONE));
            volumes.put(ref, io);
            register(io);
        }
        return io;
    }

    synchronized VolumeIo find(VolumeRef ref) {
        return volumes.get(ref);
    }

    synchronized List<VolumeStats> all() {
        List<VolumeStats> out = new ArrayList<>();
        for (VolumeIo io : volumes.values()) {
            out.add(io.stats());
        }
        return out;
    }

    synchronized QosLimits limits(VolumeRef ref) {
        return limits.getOrDefault(ref, QosLimits.NONE);
    }

    /** Saves the limits, then puts them in force. */
    synchronized void setLimits(VolumeRef ref, QosLimits l) {
        if (l.limited()) {
            Map<String, Object> p = new HashMap<>();
            p.put("datastore", ref.datastore());
            p.put("volume", ref.volume());
            p.put("iops", Long.toString(l.iops()));
            p.put("readIops", Long.toString(l.readIops()));
            p.put("writeIops", Long.toString(l.writeIops()));
            p.put("bps", Long.toString(l.bps()));
            p.put("burst", Double.toString(l.burstSeconds()));
            store.save(QOS_FACTORY_PID, configName(ref), p);
            limits.put(ref, l);
        } else {
            store.delete(QOS_FACTORY_PID, configName(ref));
            limits.remove(ref);
        }
        VolumeIo io = volumes.get(ref);
        if (io != null) {
            io.limits(l);
        }
    }

    /** A deleted volume: its statistics, MBean and limits go (a new volume of that name starts clean). */
    synchronized void forget(VolumeRef ref) {
        VolumeIo io = volumes.remove(ref);
        if (io != null) {
            unregister(io);
        }
        if (limits.remove(ref) != null) {
            store.delete(QOS_FACTORY_PID, configName(ref));
        }
    }

    @Override
    public synchronized void close() {
        volumes.values().forEach(this::unregister);
        volumes.clear();
    }

    private ObjectName name(VolumeIo io) throws javax.management.MalformedObjectNameException {
        return new ObjectName("io.strata:type=Volume,datastore=" + ObjectName.quote(io.ref.datastore()) + ",volume="
                + ObjectName.quote(io.ref.volume()));
    }

    private void register(VolumeIo io) {
        if (!jmx) {
            return;
        }
        try {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            ObjectName n = name(io);
            if (server.isRegistered(n)) {
                server.unregisterMBean(n);
            }
            server.registerMBean(new StandardMBean(new Bean(io), VolumeIoMXBean.class, true), n);
        } catch (Exception | LinkageError e) {
            LOG.warn("volume {}: no JMX statistics: {}", io.ref, e.toString());
        }
    }

    private void unregister(VolumeIo io) {
        if (!jmx) {
            return;
        }
        try {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(name(io));
        } catch (Exception e) {
            // not registered
        }
    }

    /** The MXBean view of one volume's statistics. */
    private static final class Bean implements VolumeIoMXBean {
        private final VolumeIo io;

        Bean(VolumeIo io) {
            this.io = io;
        }

        private VolumeStats s() {
            return io.stats();
        }

        @Override
        public long getReadOps() {
            return s().read().ops();
        }

        @Override
        public long getWriteOps() {
            return s().write().ops();
        }

        @Override
        public long getReadBytes() {
            return s().read().bytes();
        }

        @Override
        public long getWriteBytes() {
            return s().write().bytes();
        }

        @Override
        public double getReadIops() {
            return s().read().iops();
        }

        @Override
        public double getWriteIops() {
            return s().write().iops();
        }

        @Override
        public double getReadBytesPerSecond() {
            return s().read().bytesPerSecond();
        }

        @Override
        public double getWriteBytesPerSecond() {
            return s().write().bytesPerSecond();
        }

        @Override
        public double getReadLatencyP50Micros() {
            return s().read().p50Micros();
        }

        @Override
        public double getReadLatencyP99Micros() {
            return s().read().p99Micros();
        }

        @Override
        public double getWriteLatencyP50Micros() {
            return s().write().p50Micros();
        }

        @Override
        public double getWriteLatencyP99Micros() {
            return s().write().p99Micros();
        }

        @Override
        public int getQueueDepth() {
            return s().queueDepth();
        }

        @Override
        public double getAverageQueueDepth() {
            return s().avgQueueDepth();
        }

        @Override
        public long getFlushes() {
            return s().flushes();
        }

        @Override
        public long getThrottledMillis() {
            return s().throttledMillis();
        }

        @Override
        public void reset() {
            io.reset();
        }
    }
}
