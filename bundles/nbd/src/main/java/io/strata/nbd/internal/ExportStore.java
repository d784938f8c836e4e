package io.strata.nbd.internal;

import java.util.List;

/** Where exports are kept between restarts: Configuration Admin in the container, memory in tests. */
interface ExportStore {
    /** One saved export. */
    record Saved(String name, String volume, boolean readOnly, boolean tlsRequired) {
        Saved(String name, String volume, boolean readOnly) {
            this(name, volume, readOnly, false);
        }
    }

    List<Saved> load();

    void save(Saved export);

    void delete(String name);
}
