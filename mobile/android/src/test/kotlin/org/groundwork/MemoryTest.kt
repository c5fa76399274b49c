package org.groundwork

import java.io.File
import kotlinx.coroutines.runBlocking
import org.groundwork.ffi.GroundworkStore
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * Native memory over many create/close cycles. Surefire runs each test class in its own JVM
 * (reuseForks=false) with a fixed, pre-touched heap, so RSS here measures the native side.
 */
class MemoryTest {
    /** RSS of this JVM process, from /proc (Linux). */
    private fun rssKiB(): Long =
        File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }
            .split(Regex("\\s+"))[1].toLong()

    @Test
    fun tenThousandOpenCloseCyclesOfStoresAndSubscriptionsDoNotGrowMemory() =
        runBlocking {
            val dir = tempDir("cycles")
            val key = Groundwork.newStoreKey()
            Groundwork.create(dir, "phone", key).use { it.createGroup("Westside", null) }
            val changes = object : org.groundwork.ffi.ChangeObserver {
                override fun onChange(event: org.groundwork.ffi.ChangeEvent) {}
            }
            val statuses = object : org.groundwork.ffi.SyncStatusObserver {
                override fun onStatus(status: org.groundwork.ffi.SyncStatus) {}
            }

            suspend fun cycle() {
                val store: GroundworkStore = Groundwork.open(dir, key)
                store.use {
                    it.subscribeChanges(changes).use { sub -> sub.cancel() }
                    it.subscribeSyncStatus(statuses).close()
                    check(it.liveSubscriptions() == 0u)
                }
            }

            // Warm up (JIT, allocator arenas, SQLite's page cache sizes), then measure.
            repeat(2_000) { cycle() }
            System.gc()
            val before = rssKiB()
            val started = System.nanoTime()
            repeat(10_000) { cycle() }
            val seconds = (System.nanoTime() - started) / 1e9
            System.gc()
            val after = rssKiB()
            println("10,000 open/subscribe/close cycles in %.1f s: RSS %d KiB before, %d KiB after".format(seconds, before, after))
            assertTrue(after - before < 16 * 1024, "RSS grew from $before KiB to $after KiB")
        }
}
