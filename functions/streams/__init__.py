"""Stream records that exhausted their mapping's retries, read back from the stream and replayed.

Lambda's on-failure destination of a DynamoDB stream mapping receives only a failed batch's coordinates
(shard, first and last sequence number); the records stay in the stream for 24 hours and nothing else
replays them. ``stream-rescue`` reads them back and puts each on its consumer's replay queue, where the
consumer applies it as if the stream had delivered it (``functions.core.consumer``).
"""
