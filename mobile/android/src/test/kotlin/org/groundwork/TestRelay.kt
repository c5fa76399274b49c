package org.groundwork

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/**
 * A real groundwork-relay process on its own SQLite store, listening on a free port of
 * 127.0.0.1. The binary is the one cargo built for this test run (system property
 * `groundwork.relay`, set by the pom).
 */
class TestRelay : AutoCloseable {
    val dir: File = Files.createTempDirectory("groundwork-relay").toFile()
    private val process: Process
    val url: String

    init {
        val binary = System.getProperty("groundwork.relay") ?: error("groundwork.relay is not set")
        process =
            ProcessBuilder(binary, "--listen", "127.0.0.1:0", "--data", dir.path)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .also { it.environment()["GROUNDWORK_LOG"] = "warn" }
                .start()
        // The relay's first line on stdout says where it listens.
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine()
        val addr = line?.removePrefix("listening on ")
        require(line != null && addr != line) { "unexpected first line from the relay: $line" }
        url = "ws://$addr/v1/sync"
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        dir.deleteRecursively()
    }
}

/** A fresh temporary directory for one device's store. */
fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile()
