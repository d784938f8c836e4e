package io.strata.shell.internal;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.karaf.shell.support.table.Col;
import org.apache.karaf.shell.support.table.ShellTable;

/**
 * A table the listing commands fill, rendered by Karaf's {@link ShellTable}
 * or, with {@code --no-format}, as bare tab-separated rows.
 */
final class Table {
    private final List<String> headers = new ArrayList<>();
    private final List<Boolean> rightAligned = new ArrayList<>();
    private final List<List<String>> rows = new ArrayList<>();

    /** Adds a left-aligned column. */
    Table column(String header) {
        headers.add(header);
        rightAligned.add(false);
        return this;
    }

    /** Adds a right-aligned column (numbers, sizes). */
    Table number(String header) {
        headers.add(header);
        rightAligned.add(true);
        return this;
    }

    /** Adds a row; {@code null} cells print empty. */
    Table row(Object... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException(cells.length + " cells for " + headers.size() + " columns");
        }
        List<String> row = new ArrayList<>(cells.length);
        for (Object c : cells) {
            row.add(Objects.toString(c, ""));
        }
        rows.add(row);
        return this;
    }

    /**
     * @param format true for Karaf's table (header, rule, padded columns), false for
     *        Karaf's {@code --no-format} convention: no header, cells separated by one tab
     *        and not padded, so that {@code cut -f} and tests split them exactly
     * @return the rendered lines, each ending with a newline
     */
    String render(boolean format) {
        StringBuilder b = new StringBuilder();
        if (!format) {
            for (List<String> row : rows) {
                b.append(String.join("\t", row)).append('\n');
            }
            return b.toString();
        }
        ShellTable table = new ShellTable();
        for (int i = 0; i < headers.size(); i++) {
            Col col = table.column(headers.get(i));
            if (rightAligned.get(i)) {
                col.alignRight();
            }
        }
        for (List<String> row : rows) {
            table.addRow().addContent(new ArrayList<Object>(row));
        }
        // ShellTable picks Unicode or ASCII rules from the terminal's encoding, which
        // differs between the console, bin/client and the server's locale. Always ASCII,
        // so that scripts and tests see the same bytes everywhere.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            table.forceAscii().print(ps, StandardCharsets.UTF_8, true);
        }
        return bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }
}
