"""IMU data: recordings as read, the ``Windows`` container, preprocessing, loaders, partitions."""
