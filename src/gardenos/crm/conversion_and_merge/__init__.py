"""Operations on several people records at once: converting a lead into a client, finding a lead's
duplicates, merging them. (The pipeline itself, leads by status, is crm/pipeline.)"""
