package org.groundwork

import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.groundwork.ffi.ChangeOrigin
import org.groundwork.ffi.ContactResult
import org.groundwork.ffi.ConnectionState
import org.groundwork.ffi.DocumentKind
import org.groundwork.ffi.GroundworkException
import org.groundwork.ffi.Interest
import org.groundwork.ffi.MeetingKind
import org.groundwork.ffi.NewContact
import org.groundwork.ffi.NewMeeting
import org.groundwork.ffi.NewTarget
import org.groundwork.ffi.Office
import org.groundwork.ffi.Role
import org.groundwork.ffi.searchPlaces
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * A lead, a member and a canvasser in one group, through a real relay: the member edits a
 * meeting's agenda and the canvasser logs contacts while offline; they sync; the lead's Flows
 * see the changes arrive and the status reach synced.
 */
class GroupSyncTest {
    private val hour = 3_600_000L

    @Test
    fun editsMadeApartReachTheLeadWhoSeesThemAsFlows() =
        runBlocking {
            TestRelay().use { relay ->
                val lead = Groundwork.create(tempDir("lead"), "lead phone", Groundwork.newStoreKey())
                val member = Groundwork.create(tempDir("member"), "member phone", Groundwork.newStoreKey())
                val canvasser = Groundwork.create(tempDir("canvasser"), "canvasser phone", Groundwork.newStoreKey())

                // The lead starts the group and a meeting, and puts them on the relay.
                val group = lead.createGroup("Riverside Freedom City", "Riverside County")
                val meeting = lead.createMeeting(group, NewMeeting(kind = MeetingKind.ORGANIZING, title = "Kickoff"))
                // Its sheriff, named by county and office as every group names them.
                assertEquals("06065", searchPlaces("Riverside County, CA", 5u).first().fips)
                lead.addTarget(group, NewTarget(county = "06065", office = Office.SHERIFF))
                // The kickoff is shown to canvassers (their phones hold no plan: only the
                // group's brief, with the meetings shown to them).
                lead.setMeetingForCanvassers(meeting, true)
                assertTrue(lead.syncOnce(relay.url, 20_000uL).synced)

                // The others join with invites the lead signed: the member with the code and the
                // relay's URL, the canvasser with the link alone (it carries the relay, signed).
                assertEquals(relay.url, lead.relay())
                val memberInvite = lead.createInvite(group, Role.MEMBER, 1u, hour)
                val canvasserInvite = lead.createInvite(group, Role.CANVASSER, 1u, hour)
                assertEquals(relay.url, canvasserInvite.relay)
                assertEquals("groundwork://join?invite=${canvasserInvite.code}", canvasserInvite.link)
                assertEquals(Role.MEMBER, member.join(memberInvite.code, relay.url).role)
                // A link whose relay was changed is refused as forged, before anything is dialled.
                val forged = Links.withRelay(canvasserInvite.link, "ws://127.0.0.1:9/v1/sync")
                val refusedLink =
                    assertThrows<GroundworkException.InvalidInput> { runBlocking { canvasser.join(forged) } }
                assertTrue(refusedLink.message!!.contains("forged"), refusedLink.message)
                // The link to share opens the relay's web app on any phone; the SDK joins with it too.
                val web = relay.url.replace("ws://", "http://").removeSuffix("/v1/sync")
                assertEquals("$web/join#${canvasserInvite.code}", canvasserInvite.webLink)
                assertEquals(Role.CANVASSER, canvasser.join(canvasserInvite.webLink!!).role)
                assertEquals(relay.url, canvasser.relay())
                assertEquals("Kickoff", member.meeting(meeting).title)
                // The canvasser sees the kickoff and the leads, not the membership list.
                assertEquals(listOf("Kickoff"), canvasser.meetings(group).map { it.title })
                assertEquals(setOf(Role.LEAD), canvasser.members(group).map { it.role }.toSet())

                // The lead watches from before anything happens.
                val leadSaw = mutableSetOf<DocumentKind>()
                val leadChanges =
                    async(start = CoroutineStart.UNDISPATCHED) {
                        lead.changes().first {
                            if (it.groupId == group && it.origin == ChangeOrigin.RELAY) leadSaw.add(it.kind)
                            leadSaw.containsAll(listOf(DocumentKind.PLAN, DocumentKind.CONTACTS))
                        }
                    }

                // Apart (no sync running anywhere): the member edits the agenda, the canvasser knocks.
                member.addAgendaItem(meeting, "Ask the sheriff about R1 (judicial warrants)")
                canvasser.logContact(group, NewContact(result = ContactResult.NOT_HOME))
                canvasser.logContact(
                    group,
                    NewContact(result = ContactResult.TALKED, support = 4u, interests = listOf(Interest.ATTEND)),
                )
                // A canvasser may not edit the plan: refused here, as a typed exception.
                val refused =
                    assertThrows<GroundworkException.NotAllowed> {
                        runBlocking { canvasser.addAgendaItem(meeting, "not mine to add") }
                    }
                assertTrue(refused.message!!.contains("canvasser"), refused.message)

                // They reconnect and send what they did.
                assertTrue(member.syncOnce(relay.url, 20_000uL).synced)
                // The canvasser's device remembers its relay.
                assertTrue(canvasser.syncOnce(null, 20_000uL).synced)

                // The lead syncs in the background; its Flows see it all arrive.
                lead.startSync(relay.url)
                // The plan (the member's agenda item) and the contacts both arrive as changes.
                withTimeout(30.seconds) { leadChanges.await() }
                val synced =
                    withTimeout(30.seconds) {
                        lead.syncStatus().first { it.synced && it.state == ConnectionState.CONNECTED }
                    }
                assertEquals(relay.url, synced.relay)

                val agenda = lead.meeting(meeting).agenda.map { it.text }
                assertEquals(listOf("Ask the sheriff about R1 (judicial warrants)"), agenda)
                assertEquals(2uL, lead.contactCount(group))
                val talked = lead.contacts(group, org.groundwork.ffi.ContactFilter(result = ContactResult.TALKED))
                assertEquals(listOf(4.toUByte()), talked.map { it.support })
                assertEquals(
                    setOf(Role.LEAD, Role.MEMBER, Role.CANVASSER),
                    lead.members(group).map { it.role }.toSet(),
                )
                // Nothing the canvasser was refused reached anyone.
                assertEquals(agenda, member.meeting(meeting).agenda.map { it.text })

                lead.stopSync()
                // The county's board, read offline: the group asks its sheriff.
                val board = lead.board("06065")
                assertEquals("06065/sheriff", board.officials.single().key)
                assertEquals(listOf("Riverside Freedom City"), board.officials.single().groups)
                // A member follows the next county's board; a canvasser may not; a typo is named.
                assertEquals(listOf("06059"), member.followBoard("06059", true))
                assertEquals(listOf("06059"), member.followedCounties())
                assertThrows<GroundworkException.NotAllowed> { canvasser.followBoard("06059", true) }
                val typo = assertThrows<GroundworkException.InvalidInput> { member.followBoard("0605", true) }
                assertTrue(typo.message!!.contains("5-digit"), typo.message)
                assertEquals(emptyList<String>(), member.followBoard("06059", false))
                val status = lead.status()
                assertEquals(status.documents.size.toUInt(), status.synced, "${status.documents}")
                listOf(lead, member, canvasser).forEach { it.close() }
            }
        }

    @Test
    fun badInputIsATypedExceptionThatNamesWhatIsWrongAndLosesNothing() =
        runBlocking {
            val dir = tempDir("device")
            val key = Groundwork.newStoreKey()
            Groundwork.create(dir, "phone", key).use { store ->
                val group = store.createGroup("Eastside", null)
                store.logContact(group, NewContact(result = ContactResult.TALKED, note = "kept"))

                val consent =
                    assertThrows<GroundworkException.ConsentRequired> {
                        runBlocking { store.logContact(group, NewContact(result = ContactResult.TALKED, name = "A. Person")) }
                    }
                assertTrue(consent.message!!.contains("consent"), consent.message)
                val missing =
                    assertThrows<GroundworkException.NotFound> { runBlocking { store.meeting("no-such-meeting") } }
                assertTrue(missing.message!!.contains("no-such-meeting"), missing.message)
                val badSupport =
                    assertThrows<GroundworkException.InvalidInput> {
                        runBlocking { store.logContact(group, NewContact(result = ContactResult.TALKED, support = 9u)) }
                    }
                assertTrue(badSupport.message!!.contains("support"), badSupport.message)
                assertEquals(1uL, store.contactCount(group))
            }
            val shortKey =
                assertThrows<GroundworkException.InvalidInput> { runBlocking { Groundwork.open(dir, ByteArray(5)) } }
            assertTrue(shortKey.message!!.contains("32 bytes"), shortKey.message)
            assertThrows<GroundworkException.WrongKey> { runBlocking { Groundwork.open(dir, Groundwork.newStoreKey()) } }
            assertThrows<GroundworkException.AlreadyInitialized> { runBlocking { Groundwork.create(dir, "again", key) } }
            assertThrows<GroundworkException.NotInitialized> {
                runBlocking { Groundwork.open(tempDir("empty"), key) }
            }
            // The store is intact after every refusal.
            Groundwork.open(dir, key).use { store ->
                val group = store.groups().single()
                assertEquals("Eastside", group.name)
                assertEquals(Role.LEAD, group.role)
                assertEquals(listOf("kept"), store.contacts(group.groupId, org.groundwork.ffi.ContactFilter()).map { it.note })
            }
        }
}
