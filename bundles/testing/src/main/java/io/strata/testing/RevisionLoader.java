package io.strata.testing;

import java.lang.ref.WeakReference;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;

/**
 * A class loader that loads one package prefix itself, from a classes directory or jar, and
 * everything else from its parent: what an OSGi bundle revision is to the package it embeds. A
 * test uses the package through it, stops it, drops it and checks with {@link #collected} that
 * nothing (JNA's static maps, a thread's locals) keeps its classes loaded.
 */
public class RevisionLoader extends URLClassLoader {
    private final String prefix;

    /**
     * @param location where the package's classes are ({@code X.class.getProtectionDomain().getCodeSource().getLocation()})
     * @param prefix the package prefix loaded here, e.g. {@code "io.strata.posix."}
     * @param parent where everything else comes from
     */
    public RevisionLoader(URL location, String prefix, ClassLoader parent) {
        super(new URL[] {location}, parent);
        this.prefix = prefix;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            if (name.startsWith(prefix)) {
                Class<?> c = findLoadedClass(name);
                return c != null ? c : findClass(name);
            }
            return super.loadClass(name, resolve);
        }
    }

    /**
     * Calls a declared method of one of this loader's classes, accessible or not; an exception
     * the method throws is thrown as it is.
     *
     * @param target the instance, or null for a static method
     */
    public Object invoke(Object target, String className, String method, Class<?>[] types, Object... args)
            throws Exception {
        Method m = loadClass(className).getDeclaredMethod(method, types);
        m.setAccessible(true);
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        }
    }

    /**
     * Runs the collector until the referent goes, at most {@code rounds} times 100 ms.
     *
     * @return whether it went
     */
    public static boolean collected(WeakReference<?> ref, int rounds) throws InterruptedException {
        for (int i = 0; i < rounds && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ref.get() == null;
    }
}
