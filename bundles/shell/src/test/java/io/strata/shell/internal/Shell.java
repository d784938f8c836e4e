package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.ShellUtil;

/** Runs a failing command through Karaf's own error printing, as the console and ssh exec do. */
final class Shell {
    private Shell() {
    }

    /**
     * @return what Karaf prints for the command's failure, ANSI colours removed
     */
    static String errorOutput(StorageCommand command) {
        Throwable t = assertThrows(CommandFailure.class, command::execute);
        return stripAnsi(karafPrints(t, null));
    }

    /**
     * @param printStackTraces the session's {@code karaf.printStackTraces}, or null for the default
     * @return what {@link ShellUtil#logException} prints for the throwable, with Karaf's ANSI colours
     */
    static String karafPrints(Throwable t, String printStackTraces) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream console = new PrintStream(out, true, StandardCharsets.UTF_8);
        Map<String, Object> vars = new HashMap<>();
        if (printStackTraces != null) {
            vars.put(Session.PRINT_STACK_TRACES, printStackTraces);
        }
        Session session = (Session) Proxy.newProxyInstance(Shell.class.getClassLoader(),
                new Class<?>[] {Session.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "get": return vars.get((String) args[0]);
                        case "put": vars.put((String) args[0], args[1]); return null;
                        case "getConsole": return console;
                        default: throw new UnsupportedOperationException(method.getName());
                    }
                });
        ShellUtil.logException(session, t);
        return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * @return what the user sees when the command runs: its printed output, then Karaf's
     *         error line if it failed (ANSI colours removed)
     */
    static String transcript(StorageCommand command) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String error = "";
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            command.execute();
        } catch (CommandFailure f) {
            error = stripAnsi(karafPrints(f, null));
        } finally {
            System.setOut(saved);
        }
        return out.toString(StandardCharsets.UTF_8) + error;
    }

    static String stripAnsi(String s) {
        return s.replaceAll("\u001B\\[[0-9;]*m", "");
    }
}
