-- Members join by invitation only (POST /api/v1/agencies/{id}/invites, which runs as service_role under
-- the membership rules): `authenticated` may no longer insert memberships itself. Through /rest/v1 an admin
-- could add any user by id, learning whether the id exists and then that user's email from the members
-- list, without the user ever being asked. Changing roles and removing members stay open to the rules of
-- migration 0014.
DROP POLICY memberships_insert ON public.memberships;
REVOKE INSERT ON public.memberships FROM anon, authenticated;
