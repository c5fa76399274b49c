package org.groundwork

import java.math.BigInteger

/** Rewrites join links the way someone redirecting a joiner would: the invite, not its signature. */
object Links {
    private const val ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    private val BASE = BigInteger.valueOf(58)

    /** The same link with its invite's relay replaced by [relay], keeping the old signature. */
    fun withRelay(link: String, relay: String): String {
        val prefix = "groundwork://join?invite=gw1."
        require(link.startsWith(prefix)) { "not a join link: $link" }
        val (payload, signature) = link.removePrefix(prefix).split('.', limit = 2)
        val json = String(decode(payload), Charsets.UTF_8)
        val moved = json.replace(Regex("\"relay\":\"[^\"]*\""), "\"relay\":\"$relay\"")
        require(moved != json) { "the invite names no relay: $json" }
        return prefix + encode(moved.toByteArray(Charsets.UTF_8)) + "." + signature
    }

    private fun decode(text: String): ByteArray {
        var n = BigInteger.ZERO
        for (c in text) n = n.multiply(BASE).add(BigInteger.valueOf(ALPHABET.indexOf(c).toLong()))
        val bytes = n.toByteArray().dropWhile { it == 0.toByte() }
        val zeros = text.takeWhile { it == '1' }.length
        return ByteArray(zeros) + bytes.toByteArray()
    }

    private fun encode(bytes: ByteArray): String {
        var n = BigInteger(1, bytes)
        val out = StringBuilder()
        while (n > BigInteger.ZERO) {
            val (q, r) = n.divideAndRemainder(BASE)
            out.append(ALPHABET[r.toInt()])
            n = q
        }
        repeat(bytes.takeWhile { it == 0.toByte() }.size) { out.append('1') }
        return out.reverse().toString()
    }
}
