"""A real (MD5, test-speed) password hasher that counts how many hashes it computes."""

from django.contrib.auth.hashers import MD5PasswordHasher


class CountingHasher(MD5PasswordHasher):
    algorithm = "counting_md5"
    hashes_computed = 0

    def encode(self, password, salt):
        type(self).hashes_computed += 1
        return super().encode(password, salt)
