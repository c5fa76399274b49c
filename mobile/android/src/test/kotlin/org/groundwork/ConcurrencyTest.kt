package org.groundwork

import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.Executors
import kotlin.concurrent.thread
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.groundwork.ffi.ChangeOrigin
import org.groundwork.ffi.ContactResult
import org.groundwork.ffi.NewContact
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The SDK never blocks its caller's thread, and cancelling stops the Rust work. */
class ConcurrencyTest {
    /**
     * A "relay" that accepts a connection and never answers: a sync against it is as slow as
     * the timeout allows. It reports when the connection arrives and when the other end closes it.
     */
    private class SilentServer : AutoCloseable {
        private val socket = ServerSocket(0, 1, InetAddress.getLoopbackAddress())
        val url = "ws://127.0.0.1:${socket.localPort}/v1/sync"
        val accepted = CompletableDeferred<Unit>()
        val closedByClient = CompletableDeferred<Unit>()

        init {
            thread(isDaemon = true, name = "silent-server") {
                runCatching {
                    socket.accept().use { conn ->
                        accepted.complete(Unit)
                        // Read (and ignore) the WebSocket handshake until the client hangs up.
                        val input = conn.getInputStream()
                        val buf = ByteArray(4096)
                        while (input.read(buf) >= 0) {
                            // keep reading
                        }
                        closedByClient.complete(Unit)
                    }
                }
            }
        }

        override fun close() = socket.close()
    }

    /**
     * A canvasser in a dead zone presses Save while a sync waits on a relay that never answers:
     * the save goes through at once, and starting the background sync returns at once, both
     * while that sync is still waiting (the store is locked for each step of a sync, never
     * across the network).
     */
    @Test
    fun aSaveAndStartingSyncDoNotWaitBehindASyncToASilentRelay() {
        runBlocking {
            val store = Groundwork.create(tempDir("dead-zone"), "phone", Groundwork.newStoreKey())
            val group = store.createGroup("Dead zone canvass", null)
            SilentServer().use { server ->
                val sync = launch { store.syncOnce(server.url, 60_000uL) }
                withTimeout(20.seconds) { server.accepted.await() }
                val saved = withTimeout(20.seconds) {
                    store.logContact(group, NewContact(result = ContactResult.NOT_HOME, place = "Elm St 5"))
                }
                assertTrue(sync.isActive, "the save went through while the sync still waited")
                assertEquals(listOf(saved), store.contacts(group, org.groundwork.ffi.ContactFilter()).map { it.contactId })
                // Starting the background sync (elsewhere) returns while that sync still waits.
                store.startSync("ws://127.0.0.1:9/v1/sync")
                assertTrue(sync.isActive, "startSync returned while the sync still waited")
                store.stopSync()
                sync.cancelAndJoin()
            }
            store.close()
        }
    }

    @Test
    fun aSlowCallLeavesItsThreadFreeAndCancellingItClosesTheConnection() {
        val single = Executors.newSingleThreadExecutor { Thread(it, "app-main") }.asCoroutineDispatcher()
        single.use { dispatcher ->
            runBlocking(dispatcher) {
                val store = Groundwork.create(tempDir("slow"), "phone", Groundwork.newStoreKey())
                SilentServer().use { server ->
                    // A sync that would wait up to a minute for a handshake that never comes.
                    val sync = launch { store.syncOnce(server.url, 60_000uL) }
                    // This coroutine runs on the same single thread; it can only get here if the
                    // pending sync left the thread free.
                    withTimeout(20.seconds) { server.accepted.await() }
                    assertTrue(Thread.currentThread().name.startsWith("app-main"), Thread.currentThread().name)
                    assertTrue(sync.isActive, "the sync should still be waiting")
                    // (A save on the same store meanwhile goes through at once: see
                    // aSaveAndStartingSyncDoNotWaitBehindASyncToASilentRelay.)
                    sync.cancelAndJoin()
                    // Cancelling the coroutine dropped the Rust future: the socket is closed...
                    withTimeout(20.seconds) { server.closedByClient.await() }
                    // ...and the store is free again at once.
                    val group = withTimeout(20.seconds) { store.createGroup("after cancel", null) }
                    assertEquals(listOf(group), store.groups().map { it.groupId })
                }
                store.close()
            }
        }
    }

    @Test
    fun closingAFlowEndsItsNativeSubscription() =
        runBlocking {
            Groundwork.create(tempDir("flows"), "phone", Groundwork.newStoreKey()).use { store ->
                val group = store.createGroup("Northside", null)
                val firstChange = CompletableDeferred<org.groundwork.ffi.ChangeEvent>()
                val watching =
                    launch {
                        store.changes().collect { firstChange.complete(it) }
                    }
                // Wait until the subscription is live before editing.
                withTimeout(20.seconds) {
                    while (store.liveSubscriptions() == 0u) kotlinx.coroutines.yield()
                }
                store.logContact(group, NewContact(result = ContactResult.MOVED))
                val event = withTimeout(20.seconds) { firstChange.await() }
                assertEquals(group, event.groupId)
                assertEquals(ChangeOrigin.LOCAL, event.origin)

                watching.cancelAndJoin()
                assertEquals(0u, store.liveSubscriptions())

                // The status flow starts with the current status and ends the same way.
                val status = withTimeout(20.seconds) { store.syncStatus().first() }
                assertEquals(null, status.relay)
                assertEquals(0u, store.liveSubscriptions())
            }
        }
}
