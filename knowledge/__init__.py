"""Knowledge base: articles operators answer from (直接办结) and cite on the ticket."""
