package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** How failures reach the user, through Karaf's own printing code (ShellUtil.logException). */
class ErrorPrintingTest {

    private static StorageCommand failingWith(RuntimeException e) {
        return new StorageCommand() {
            @Override
            String run() {
                throw e;
            }
        };
    }

    @Test
    void aStorageExceptionIsOneLineWithItsCode() {
        StorageCommand c = failingWith(new StorageException(ErrorCode.VOLUME_IN_USE, "volume local/vm1 is open (1 writer)"));
        assertEquals("Error executing command: VOLUME_IN_USE: volume local/vm1 is open (1 writer)\n",
                Shell.errorOutput(c));
    }

    @Test
    void karafColoursTheLineButPrintsNoStackTrace() {
        CommandFailure f = assertThrows(CommandFailure.class,
                failingWith(new StorageException(ErrorCode.DATASTORE_NOT_FOUND, "datastore x does not exist"))::execute);
        String raw = Shell.karafPrints(f, null);
        // Karaf colours the line (KS_COLORS, default em=31:ee=1;31) even over ssh exec.
        assertEquals("\u001B[31mError executing command: \u001B[0m\u001B[31;1mDATASTORE_NOT_FOUND: datastore x does not exist\u001B[0m\n",
                raw);
        assertEquals(ErrorCode.DATASTORE_NOT_FOUND, f.code());
    }

    @Test
    void userErrorsCarryNoTraceEvenWhenStackTracesAreOn() {
        CommandFailure f = assertThrows(CommandFailure.class,
                failingWith(new StorageException(ErrorCode.INVALID_NAME, "bad"))::execute);
        assertNull(f.getCause());
        assertEquals(0, f.getStackTrace().length);
        assertEquals("io.strata.shell.internal.CommandFailure: INVALID_NAME: bad\n",
                Shell.stripAnsi(Shell.karafPrints(f, "always")));
    }

    @Test
    void serverSideFailuresKeepTheirCauseForTheLog() {
        StorageException io = new StorageException(ErrorCode.IO_ERROR, "write to /x failed: No space left on device");
        CommandFailure f = assertThrows(CommandFailure.class, failingWith(io)::execute);
        assertSame(io, f.getCause());
        assertEquals("Error executing command: IO_ERROR: write to /x failed: No space left on device\n",
                Shell.stripAnsi(Shell.karafPrints(f, null)));
        assertTrue(Shell.karafPrints(f, "always").contains("Caused by: StorageException[IO_ERROR"));
    }

    @Test
    void aBugBelowTheCommandStillPrintsOneCodedLine() {
        StorageCommand c = failingWith(new IllegalStateException("catalog not loaded\nsecond line"));
        assertEquals("Error executing command: INTERNAL: IllegalStateException: catalog not loaded\n",
                Shell.errorOutput(c));
        c = failingWith(new NullPointerException());
        assertEquals("Error executing command: INTERNAL: java.lang.NullPointerException\n", Shell.errorOutput(c));
    }

    @Test
    void executePrintsTheRenderedTextToSystemOut() {
        StorageCommand c = new StorageCommand() {
            @Override
            String run() {
                return "a: 1\n";
            }
        };
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            assertNull(c.execute());
        } finally {
            System.setOut(saved);
        }
        assertEquals("a: 1\n", out.toString(StandardCharsets.UTF_8));
    }
}
